/**
 * Turning pixels into member predictions. The input is tiled K times member-major and the
 * network is run S times (spec §5: logits [S, K, B, C]); everything after that is plain arrays.
 */
import * as tf from '@tensorflow/tfjs';
import { membersOf } from './defaults.js';
import type { Rank1Model } from './models/index.js';
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

/** Run the model S times on a batch of B images (not yet tiled), training=false (BN moving stats). */
export async function runMembers(
  model: Rank1Model,
  x: tf.Tensor,
  samples: number,
  rng: Rng,
): Promise<MemberOutputs> {
  const K = membersOf(model.config);
  const B = x.shape[0];
  const S = Math.max(1, samples);
  const { logits, features } = tf.tidy(() => {
    const tiled = tileMembers(x, K);
    const outs = Array.from({ length: S }, () => model.forward(tiled, { training: false, rng }));
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
  const [probsT, logProbsT, meanLogitsT] = tf.tidy(() => [
    tf.softmax(logits),
    tf.logSoftmax(logits),
    tf.mean(logits, 1),
  ]);
  const [probs, logProbs, meanLogits, feats] = await Promise.all([
    probsT!.data(),
    logProbsT!.data(),
    meanLogitsT!.data(),
    features.data(),
  ]);
  tf.dispose([logits, features, probsT!, logProbsT!, meanLogitsT!]);
  return {
    B: B_,
    M,
    C,
    probs: probs as Float32Array,
    logProbs: logProbs as Float32Array,
    meanLogits: meanLogits as Float32Array,
    features: feats as Float32Array,
    D: features.shape[1]!,
  };
}
