import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src-main/engine/backends/index.js';
import { resolveModelConfig } from '../../src-main/engine/defaults.js';
import { pixelsToTensor, runMembers, tileMembers, withTemperature } from '../../src-main/engine/inference.js';
import { buildModel } from '../../src-main/engine/models/index.js';
import {
  DEFAULT_FACTOR_MODE,
  drawPredictionFactors,
  resolvePlan,
} from '../../src-main/engine/models/prediction-factors.js';
import type { Rank1Model } from '../../src-main/engine/models/index.js';
import { Rng } from '../../src-main/engine/random.js';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('pixelsToTensor', () => {
  it('computes (p/255 − mean_c)/std_c per channel, HWC order', async () => {
    const px = Uint8Array.of(0, 255, 51, 102, 255, 0);
    const t = pixelsToTensor(px, 1, [1, 2, 3], { mean: [0, 0.5, 0.2], std: [1, 0.5, 0.1] });
    expect(t.shape).toEqual([1, 1, 2, 3]);
    const v = Array.from(await t.data());
    const want = [0, (1 - 0.5) / 0.5, (0.2 - 0.2) / 0.1, 0.4, (1 - 0.5) / 0.5, (0 - 0.2) / 0.1];
    v.forEach((x, i) => expect(x).toBeCloseTo(want[i]!, 5));
    t.dispose();
  });

  it('refuses too few pixels with the counts in the message', () => {
    expect(() =>
      pixelsToTensor(new Uint8Array(5), 2, [1, 1, 3], { mean: [0, 0, 0], std: [1, 1, 1] }),
    ).toThrow(/expected 6 pixel values, got 5/);
  });
});

describe('tileMembers', () => {
  it('repeats the whole batch K times, member-major', async () => {
    const x = tf.tensor2d([
      [1, 2],
      [3, 4],
    ]);
    const t = tileMembers(x, 3);
    expect(await t.array()).toEqual([
      [1, 2],
      [3, 4],
      [1, 2],
      [3, 4],
      [1, 2],
      [3, 4],
    ]);
    tf.dispose([x, t]);
  });
});

describe('withTemperature', () => {
  it('divides each member’s logits by T before its softmax; mean logits stay raw', () => {
    // one image, two members, two classes
    const logits = Float32Array.of(2, 0, 0, 4);
    const out = withTemperature({ B: 1, M: 2, C: 2, logits, features: new Float32Array(1), D: 1 }, 2);
    const s = (a: number, b: number) => Math.exp(a) / (Math.exp(a) + Math.exp(b));
    expect(out.probs[0]).toBeCloseTo(s(1, 0), 6);
    expect(out.probs[1]).toBeCloseTo(s(0, 1), 6);
    expect(out.probs[2]).toBeCloseTo(s(0, 2), 6);
    expect(out.logProbs[3]).toBeCloseTo(Math.log(s(2, 0)), 6);
    expect(Array.from(out.meanLogits)).toEqual([1, 2]);
  });
});

/** Plain-array forward pass of the mlp (spec §1: y = ((x ⊙ α̃) W) ⊙ γ̃ + b_k per layer). */
function denseRank1(x: number[], W: number[][], alpha: number[], gamma: number[], bias: number[]): number[] {
  return gamma.map((g, j) => g * x.reduce((s, xi, i) => s + xi * alpha[i]! * W[i]![j]!, 0) + bias[j]!);
}

describe('runMembers with prediction factors', () => {
  it('member m = s·K + k applies draw s of member k in every layer, rows laid out [B, M, C]', async () => {
    const config = resolveModelConfig(
      { size: 2, channels: 1, count: 10, numClasses: 3 },
      { arch: 'mlp', hidden: 4, members: 2, method: 'rank1' },
    );
    const model = buildModel(config, new Rng(5));
    // give the biases non-zero values so that the per-member bias is checked too
    for (const p of model.params().filter((q) => /bias/.test(q.name)))
      p.variable.assign(tf.randomNormal(p.variable.shape, 0, 0.5, 'float32', 9));
    const factors = await drawPredictionFactors(model, { mode: 'samples', samples: 2, seed: 11 });
    expect(factors.effectiveMembers).toBe(4);
    const images = [
      [0.5, -1, 2, 0.25],
      [1, 1, -0.5, 0],
    ];
    const x = tf.tensor2d(images);
    const out = await runMembers(model, x, 0, new Rng(0), factors);
    x.dispose();
    expect([out.B, out.M, out.C]).toEqual([2, 4, 3]);
    const [l1, l2] = factors.layers;
    const kernel = async (name: string) =>
      (await model
        .params()
        .find((p) => p.name === `${name}/kernel`)!
        .variable.array()) as number[][];
    const [W1, W2] = [await kernel('dense1'), await kernel('head')];
    const row = (a: Float32Array, m: number, n: number) => Array.from(a.subarray(m * n, (m + 1) * n));
    for (let b = 0; b < 2; b++)
      for (let m = 0; m < 4; m++) {
        const h = denseRank1(
          images[b]!,
          W1,
          row(l1!.alpha, m, 4),
          row(l1!.gamma, m, 4),
          row(l1!.bias!, m, 4),
        ).map((v) => Math.max(0, v));
        const want = denseRank1(h, W2, row(l2!.alpha, m, 4), row(l2!.gamma, m, 3), row(l2!.bias!, m, 3));
        want.forEach((v, c) => expect(out.logits[(b * 4 + m) * 3 + c]).toBeCloseTo(v, 4));
      }
    // the bias rows are bias_k, repeated for each draw: m = s·K + k
    expect(row(l2!.bias!, 2, 3)).toEqual(row(l2!.bias!, 0, 3));
    model.dispose();
  });

  it('mean mode uses the posterior locations, one row per member', async () => {
    const config = resolveModelConfig(
      { size: 2, channels: 1, count: 10, numClasses: 3 },
      { arch: 'mlp', hidden: 4, members: 3, method: 'rank1' },
    );
    const model = buildModel(config, new Rng(6));
    const f = await drawPredictionFactors(model, { mode: 'mean', samples: 5, seed: 1 });
    expect([f.samples, f.effectiveMembers]).toEqual([1, 3]);
    const loc = model.params().find((p) => p.name === 'dense1/alpha/loc')!.variable;
    expect(Array.from(f.layers[0]!.alpha)).toEqual(Array.from(await loc.data()));
    model.dispose();
  });

  it('draws are a function of (weights, seed): a larger S extends a smaller one', async () => {
    const config = resolveModelConfig(
      { size: 2, channels: 1, count: 10, numClasses: 3 },
      { arch: 'mlp', hidden: 4, members: 2, method: 'rank1' },
    );
    const model = buildModel(config, new Rng(7));
    const a = await drawPredictionFactors(model, { mode: 'samples', samples: 1, seed: 3 });
    const b = await drawPredictionFactors(model, { mode: 'samples', samples: 3, seed: 3 });
    const c = await drawPredictionFactors(model, { mode: 'samples', samples: 1, seed: 4 });
    a.layers.forEach((l, i) => {
      expect(Array.from(b.layers[i]!.alpha.subarray(0, l.alpha.length))).toEqual(Array.from(l.alpha));
      expect(Array.from(c.layers[i]!.alpha)).not.toEqual(Array.from(l.alpha));
    });
    model.dispose();
  });
});

describe('resolvePlan', () => {
  const of = (method: string) => ({ config: { method, members: 4 } }) as unknown as Rank1Model;
  it('old folders get the default plan seeded by their training seed; --samples S > 1 draws S per member', () => {
    expect(resolvePlan(of('rank1'), undefined, { samples: 1, seed: 42 })).toEqual({
      mode: DEFAULT_FACTOR_MODE,
      samples: 1,
      seed: 42,
    });
    const mean = { mode: 'mean' as const, samples: 1, seed: 5 };
    expect(resolvePlan(of('rank1'), mean, { samples: 1, seed: 42 })).toEqual(mean);
    expect(resolvePlan(of('rank1'), mean, { samples: 1, seed: 42 }, 3)).toEqual({
      mode: 'samples',
      samples: 3,
      seed: 5,
    });
    // no posterior: one pass whatever is asked
    expect(resolvePlan(of('batchensemble'), undefined, { samples: 4, seed: 1 }, 8).samples).toBe(1);
    expect(resolvePlan(of('deterministic'), undefined, { samples: 4, seed: 1 }).samples).toBe(1);
  });
});
