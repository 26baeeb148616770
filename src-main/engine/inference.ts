/**
 * Turning pixels into member predictions. The input is tiled K times member-major and the
 * network is run S times (spec §5: logits [S, K, B, C]); everything after that is plain arrays.
 */
import * as tf from '@tensorflow/tfjs';
import { membersOf } from './defaults.js';
import type { Rank1Model } from './models/index.js';
import { disposeFixed, fixedFactorsFor, type PredictionFactors } from './models/prediction-factors.js';
import type { Rng } from './random.js';

export interface Normalization {
  mean: number[];
  std: number[];
}

/** uint8 HWC pixels → normalised float [count, H, W, C]: (p/255 − mean_c)/std_c. */
export function pixelsToTensor(
  pixels: Uint8Array,
  count: number,
  shape: readonly number[],
  norm: Normalization,
): tf.Tensor4D {
  const [h, w, c] = shape as [number, number, number];
  const size = h * w * c;
  if (pixels.length < count * size)
    throw new Error(`expected ${count * size} pixel values, got ${pixels.length}`);
  const out = new Float32Array(count * size);
  const scale = norm.std.map((s) => 1 / (255 * s));
  const shift = norm.mean.map((m, i) => m / norm.std[i]!);
  for (let i = 0; i < count * size; i++) {
    const ch = i % c;
    out[i] = pixels[i]! * scale[ch]! - shift[ch]!;
  }
  return tf.tensor4d(out, [count, h, w, c]);
}

/** Member-major tiling: rows [k·B, (k+1)·B) are member k's copy of the batch (spec §1, §8). */
export function tileMembers<T extends tf.Tensor>(x: T, K: number): T {
  if (K === 1) return tf.clone(x);
  const reps = [K, ...x.shape.slice(1).map(() => 1)];
  return tf.tile(x, reps) as T;
}

export interface MemberOutputs {
  /** Images in the batch. */
  B: number;
  /** Rows per image: samples × members. */
  M: number;
  C: number;
  /** [B, M, C] logits (before any temperature). */
  logits: Float32Array;
  /** [B, M, C] softmax probabilities. */
  probs: Float32Array;
  /** [B, M, C] log-softmax. */
  logProbs: Float32Array;
  /** [B, C] logits averaged over the M rows (for the energy score). */
  meanLogits: Float32Array;
  /** [B, D] penultimate features averaged over the M rows. */
  features: Float32Array;
  D: number;
}

/**
 * Run the model S times on a batch of B images (not yet tiled), training=false (BN moving stats).
 * With `factors` (prediction), pass s uses the fixed values of draw s and S = factors.samples;
 * without, each row draws its own factor samples from `rng` (training-time behaviour).
 */
export async function runMembers(
  model: Rank1Model,
  x: tf.Tensor,
  samples: number,
  rng: Rng,
  factors?: PredictionFactors,
): Promise<MemberOutputs> {
  const K = membersOf(model.config);
  const B = x.shape[0];
  const S = factors ? factors.samples : Math.max(1, samples);
  const { logits, features } = tf.tidy(() => {
    const tiled = tileMembers(x, K);
    const outs = Array.from({ length: S }, (_, s) => {
      const fixed = factors && fixedFactorsFor(factors, s);
      try {
        return model.forward(tiled, { training: false, rng, factors: fixed });
      } finally {
        if (fixed) disposeFixed(fixed);
      }
    });
    const C = outs[0]!.logits.shape[1];
    // [S, K·B, C] → [S, K, B, C] → [B, S, K, C] → [B, S·K, C]
    const l = tf.reshape(
      tf.transpose(tf.reshape(tf.stack(outs.map((o) => o.logits)), [S, K, B, C]), [2, 0, 1, 3]),
      [B, S * K, C],
    );
    const D = outs[0]!.features.shape[1];
    const f = tf.mean(tf.reshape(tf.stack(outs.map((o) => o.features)), [S * K, B, D]), 0);
    return { logits: l, features: f };
  });
  const [B_, M, C] = logits.shape as [number, number, number];
  const [rawLogits, feats] = await Promise.all([logits.data(), features.data()]);
  const D = features.shape[1]!;
  tf.dispose([logits, features]);
  return withTemperature(
    { B: B_, M, C, logits: rawLogits as Float32Array, features: feats as Float32Array, D },
    1,
  );
}

/**
 * Member probabilities at temperature T: p_m = softmax(logits_m / T) for each effective member,
 * the mixture being their mean (temperature scaling, Guo et al. 2017, applied per member so the
 * entropy still splits into aleatoric + epistemic, spec §5). `meanLogits` stay untempered.
 */
export function withTemperature(
  out: Pick<MemberOutputs, 'B' | 'M' | 'C' | 'logits' | 'features' | 'D'>,
  temperature: number,
): MemberOutputs {
  const { B, M, C, logits } = out;
  const probs = new Float32Array(B * M * C);
  const logProbs = new Float32Array(B * M * C);
  const meanLogits = new Float32Array(B * C);
  for (let r = 0; r < B * M; r++) {
    const o = r * C;
    let max = -Infinity;
    for (let c = 0; c < C; c++) max = Math.max(max, logits[o + c]! / temperature);
    let z = 0;
    for (let c = 0; c < C; c++) z += Math.exp(logits[o + c]! / temperature - max);
    const lz = Math.log(z) + max;
    const b = Math.floor(r / M);
    for (let c = 0; c < C; c++) {
      const lp = logits[o + c]! / temperature - lz;
      logProbs[o + c] = lp;
      probs[o + c] = Math.exp(lp);
      meanLogits[b * C + c]! += logits[o + c]! / M;
    }
  }
  return { B, M, C, logits, probs, logProbs, meanLogits, features: out.features, D: out.D };
}
