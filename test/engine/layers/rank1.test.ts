import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Conv2DRank1,
  DenseRank1,
  RankOneFactor,
  type FactorOptions,
} from '../../../src-main/engine/layers/rank1.js';
import { Rng } from '../../../src-main/engine/random.js';
import { tileMembers } from '../../../src-main/engine/inference.js';

const opts = (o: Partial<FactorOptions> = {}): FactorOptions => ({
  method: 'rank1',
  members: 3,
  posterior: 'gaussian',
  randomSignInit: 0.5,
  priorMean: 1,
  priorStddev: 0.1,
  initStddev: 0.0316,
  ...o,
});

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const arr = (t: tf.Tensor) => Array.from(t.dataSync());

describe('DenseRank1', () => {
  it('equals the explicit per-row product with W ⊙ (α̃ γ̃ᵀ) plus the member bias (spec §1)', () => {
    const K = 3;
    const B = 2;
    const layer = new DenseRank1({ name: 'd', inputDim: 4, units: 5 }, opts({ members: K }), new Rng(1));
    layer.bias!.assign(tf.randomNormal([K, 5], 0, 1, 'float32', 3));
    const x = tf.randomNormal([K * B, 4], 0, 1, 'float32', 2) as tf.Tensor2D;
    const y = arr(layer.apply(x, { training: true, rng: new Rng(99) }));
    // Replay the same draws: alpha then gamma, from the same seed.
    const replay = new Rng(99);
    const a = layer.alpha!.sample(B, replay).arraySync();
    const g = layer.gamma!.sample(B, replay).arraySync();
    const W = layer.kernel.arraySync() as number[][];
    const bias = layer.bias!.arraySync() as number[][];
    const X = x.arraySync();
    for (let n = 0; n < K * B; n++) {
      const k = Math.floor(n / B); // member-major rows
      for (let o = 0; o < 5; o++) {
        let s = 0;
        for (let i = 0; i < 4; i++) s += X[n]![i]! * W[i]![o]! * a[n]![i]! * g[n]![o]!;
        expect(y[n * 5 + o]).toBeCloseTo(s + bias[k]![o]!, 4);
      }
    }
  });

  it('samples differ per example row and are redrawn on every pass', () => {
    const layer = new DenseRank1({ name: 'd2', inputDim: 3, units: 2 }, opts({ members: 2 }), new Rng(1));
    const x = tf.ones([4, 3]) as tf.Tensor2D;
    const y1 = arr(layer.apply(x, { training: false, rng: new Rng(5) }));
    const y2 = arr(layer.apply(x, { training: false, rng: new Rng(6) }));
    expect(y1.slice(0, 2)).not.toEqual(y1.slice(2, 4)); // same member, different rows
    expect(y1).not.toEqual(y2);
  });

  it('BatchEnsemble uses fixed per-member vectors: member i = (x·α_i)W·γ_i + b_i', () => {
    const K = 2;
    const layer = new DenseRank1(
      { name: 'be', inputDim: 3, units: 2 },
      opts({ members: K, method: 'batchensemble' }),
      new Rng(4),
    );
    expect(layer.alpha!.rho).toBeUndefined();
    const x = tf.randomNormal([K * 2, 3], 0, 1, 'float32', 8) as tf.Tensor2D;
    const y1 = arr(layer.apply(x, { training: true, rng: new Rng(1) }));
    const y2 = arr(layer.apply(x, { training: true, rng: new Rng(2) }));
    expect(y1).toEqual(y2);
    const W = layer.kernel.arraySync() as number[][];
    const a = layer.alpha!.loc.arraySync() as number[][];
    const g = layer.gamma!.loc.arraySync() as number[][];
    const X = x.arraySync();
    for (let n = 0; n < 4; n++) {
      const k = Math.floor(n / 2);
      for (let o = 0; o < 2; o++) {
        let s = 0;
        for (let i = 0; i < 3; i++) s += X[n]![i]! * a[k]![i]! * W[i]![o]!;
        expect(y1[n * 2 + o]).toBeCloseTo(s * g[k]![o]!, 4);
      }
    }
  });

  it('deterministic has one member and no factors, hence no KL', () => {
    const layer = new DenseRank1(
      { name: 'det', inputDim: 3, units: 2 },
      opts({ members: 1, method: 'deterministic' }),
      new Rng(4),
    );
    expect(layer.alpha).toBeUndefined();
    expect(layer.klDivergence(new Rng(1)).dataSync()[0]).toBe(0);
    expect(layer.params().map((p) => p.name)).toEqual(['det/kernel', 'det/bias']);
  });

  it('refuses a batch that is not a multiple of K', () => {
    const layer = new DenseRank1({ name: 'bad', inputDim: 3, units: 2 }, opts({ members: 3 }), new Rng(4));
    expect(() => layer.apply(tf.ones([4, 3]) as tf.Tensor2D, { training: true, rng: new Rng(1) })).toThrow(
      /multiple of 3 members/,
    );
  });
});

describe('Conv2DRank1', () => {
  it('equals conv(x ⊙ α̃, W) ⊙ γ̃ with factors broadcast over H and W', () => {
    const K = 2;
    const B = 2;
    const layer = new Conv2DRank1(
      { name: 'c', inChannels: 3, filters: 4, kernelSize: 3 },
      opts({ members: K }),
      new Rng(2),
    );
    const x = tf.randomNormal([K * B, 5, 5, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
    const y = layer.apply(x, { training: true, rng: new Rng(7) });
    const replay = new Rng(7);
    const a = layer.alpha!.sample(B, replay);
    const g = layer.gamma!.sample(B, replay);
    // Explicit per-row weights: W_n = W ⊙ (a_n g_nᵀ), one conv per row.
    for (let n = 0; n < K * B; n++) {
      const wn = tf.mul(
        layer.kernel,
        tf.reshape(
          tf.mul(tf.reshape(a.slice([n, 0], [1, 3]), [3, 1]), g.slice([n, 0], [1, 4])),
          [1, 1, 3, 4],
        ),
      );
      const yn = tf.conv2d(x.slice([n, 0, 0, 0], [1, 5, 5, 3]), wn as tf.Tensor4D, 1, 'same');
      const got = arr(y.slice([n, 0, 0, 0], [1, 5, 5, 4]));
      arr(yn).forEach((v, i) => expect(got[i]).toBeCloseTo(v, 4));
    }
  });

  it('clips samples to [-10, 10] (heavy-tailed Cauchy draws)', () => {
    const f = new RankOneFactor('f', 50, opts({ members: 2, posterior: 'cauchy' }), new Rng(3));
    f.rho!.assign(tf.fill([2, 50], 3)); // scale ≈ 3: many draws beyond ±10
    const s = arr(f.sample(200, new Rng(1)));
    expect(Math.max(...s)).toBeLessThanOrEqual(10);
    expect(Math.min(...s)).toBeGreaterThanOrEqual(-10);
    expect(s.filter((v) => Math.abs(v) === 10).length).toBeGreaterThan(0);
  });
});

describe('initialisation (spec §2)', () => {
  it('locations are ±1 with P(+1) as set, scales near σ0 from ρ ~ TN(log(expm1(σ0)), 0.1)', () => {
    const f = new RankOneFactor('init', 2000, opts({ members: 2, randomSignInit: 0.75 }), new Rng(11));
    const loc = arr(f.loc);
    expect(loc.every((v) => v === 1 || v === -1)).toBe(true);
    const plus = loc.filter((v) => v === 1).length / loc.length;
    expect(plus).toBeGreaterThan(0.72);
    expect(plus).toBeLessThan(0.78);
    const sigma = arr(f.scale());
    expect(Math.min(...sigma)).toBeGreaterThan(0.025);
    expect(Math.max(...sigma)).toBeLessThan(0.04);
  });
});

describe('member-major tiling (spec §1, §8)', () => {
  it('tiles [a, b] as [a, b, a, b] for K = 2', () => {
    const x = tf.tensor2d([[1], [2]]);
    expect(arr(tileMembers(x, 2))).toEqual([1, 2, 1, 2]);
    expect(arr(tileMembers(x, 1))).toEqual([1, 2]);
  });
});
