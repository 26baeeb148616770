import { describe, expect, it } from 'vitest';
import {
  batchScores,
  cholesky,
  fitFeatureStats,
  knnDistance,
  mahalanobis,
} from '../../src-main/engine/ood.js';
import { Rng } from '../../src-main/engine/random.js';
import type { MemberOutputs } from '../../src-main/engine/inference.js';

function gaussianCloud(n: number, D: number, rng: Rng, centre: number[] = []): Float32Array {
  const f = new Float32Array(n * D);
  for (let i = 0; i < n * D; i++) {
    const z = Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
    f[i] = (centre[i % D] ?? 0) + z;
  }
  return f;
}

describe('feature-space scores', () => {
  it('Mahalanobis: a standard Gaussian cloud gives ≈ D on average, a far point far more', () => {
    const D = 4;
    const rng = new Rng(1);
    const feats = gaussianCloud(4000, D, rng);
    const stats = fitFeatureStats(feats, new Int32Array(4000), D, 1);
    const inside = Array.from({ length: 200 }, (_, i) =>
      mahalanobis(feats.subarray(i * D, i * D + D), stats),
    );
    const mean = inside.reduce((a, b) => a + b, 0) / inside.length;
    expect(mean).toBeGreaterThan(3);
    expect(mean).toBeLessThan(5);
    // (10, 0, 0, 0) with unit covariance → squared distance ≈ 100
    expect(mahalanobis([10, 0, 0, 0], stats)).toBeGreaterThan(80);
    expect(mahalanobis([10, 0, 0, 0], stats)).toBeLessThan(120);
  });

  it('Mahalanobis takes the nearest class mean', () => {
    const D = 2;
    const rng = new Rng(2);
    const a = gaussianCloud(500, D, rng, [0, 0]);
    const b = gaussianCloud(500, D, rng, [20, 0]);
    const feats = new Float32Array([...a, ...b]);
    const labels = Int32Array.from({ length: 1000 }, (_, i) => (i < 500 ? 0 : 1));
    const stats = fitFeatureStats(feats, labels, D, 2);
    expect(mahalanobis([20, 0], stats)).toBeLessThan(1);
    expect(mahalanobis([10, 0], stats)).toBeGreaterThan(50);
  });

  it('a single class and identical features still fit (ridge keeps Σ invertible)', () => {
    const feats = new Float32Array(30).fill(1);
    const stats = fitFeatureStats(feats, new Int32Array(10), 3, 1);
    expect(mahalanobis([1, 1, 1], stats)).toBeCloseTo(0, 6);
    expect(mahalanobis([2, 1, 1], stats)).toBeGreaterThan(1000);
  });

  it('kNN: distance to the k-th nearest normalised training feature', () => {
    const bank = new Float32Array([1, 0, 0, 1, 1, 0]); // (1,0), (0,1), (1,0)
    const stats = fitFeatureStats(bank, new Int32Array(3), 2, 1, { k: 2 });
    expect(knnDistance([2, 0], stats)).toBeCloseTo(0, 6); // two copies of (1,0)
    expect(knnDistance([0, 3], stats)).toBeCloseTo(Math.SQRT2, 6); // one (0,1), then (1,0)
  });

  it('cholesky reproduces the matrix', () => {
    const a = Float64Array.from([4, 2, 2, 3]);
    const l = cholesky(a, 2);
    expect(l[0]! * l[0]!).toBeCloseTo(4, 12);
    expect(l[2]! * l[0]!).toBeCloseTo(2, 12);
    expect(l[2]! ** 2 + l[3]! ** 2).toBeCloseTo(3, 12);
    expect(() => cholesky(Float64Array.from([1, 2, 2, 1]), 2)).toThrow(/positive definite/);
  });
});

describe('output scores', () => {
  const out = (probs: number[], logits: number[], M: number, C: number): MemberOutputs => ({
    B: probs.length / (M * C),
    M,
    C,
    logits: Float32Array.from(probs.map(Math.log)),
    probs: Float32Array.from(probs),
    logProbs: Float32Array.from(probs.map(Math.log)),
    meanLogits: Float32Array.from(logits),
    features: new Float32Array(probs.length / (M * C)),
    D: 1,
  });

  it('entropy, MI, max-prob and energy are higher for the less certain image', () => {
    const s = batchScores(out([0.99, 0.01, 0.99, 0.01, 0.9, 0.1, 0.1, 0.9], [5, 0, 0.5, 0.4], 2, 2));
    expect(s[1]!.entropy).toBeGreaterThan(s[0]!.entropy);
    expect(s[1]!.mutual_information).toBeGreaterThan(s[0]!.mutual_information);
    expect(s[1]!.max_prob).toBeCloseTo(0.5, 6);
    expect(s[0]!.energy).toBeCloseTo(-Math.log(Math.exp(5) + 1), 5);
    expect(s[1]!.energy).toBeGreaterThan(s[0]!.energy);
    expect(Number.isNaN(s[0]!.mahalanobis)).toBe(true); // no statistics fitted
  });
});
