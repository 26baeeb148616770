import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { RankOneFactor, cauchyLogProb, type FactorOptions } from '../../../src-main/engine/layers/rank1.js';
import { Rng } from '../../../src-main/engine/random.js';
import { TEST_FACTORS } from '../helpers.js';

const base: FactorOptions = TEST_FACTORS;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('klDivergence', () => {
  it('Gaussian: equals the closed form summed over members and elements (spec §3)', () => {
    const f = new RankOneFactor('g', 6, base, new Rng(1));
    const mu = Array.from(f.loc.dataSync());
    const sigma = Array.from(f.scale().dataSync());
    const closed = mu.reduce(
      (s, m, i) => s + Math.log(0.1 / sigma[i]!) + (sigma[i]! ** 2 + (m - 1) ** 2) / (2 * 0.01) - 0.5,
      0,
    );
    expect(f.klDivergence(new Rng(0)).dataSync()[0]).toBeCloseTo(closed, 1);
    // The spec's worked numbers: +1 costs 0.70 nats, −1 costs 200.7 at σ = 0.0316.
    const one = (m: number) => Math.log(0.1 / 0.0316) + (0.0316 ** 2 + (m - 1) ** 2) / 0.02 - 0.5;
    expect(one(1)).toBeCloseTo(0.7, 2);
    expect(one(-1)).toBeCloseTo(200.7, 1);
  });

  it('Gaussian: agrees with a Monte Carlo estimate of E_q[log q − log p]', () => {
    const f = new RankOneFactor('mc', 3, { ...base, members: 1 }, new Rng(2));
    f.loc.assign(tf.tensor2d([[0.8, 1.1, 1.3]]));
    f.rho!.assign(tf.tensor2d([[-2, -2.5, -1.8]]));
    const mu = f.loc.dataSync();
    const sd = f.scale().dataSync();
    const rng = new Rng(3);
    let acc = 0;
    const n = 200_000;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < 3; j++) {
        // Box–Muller
        const z = Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
        const x = mu[j]! + sd[j]! * z;
        const logq = -0.5 * z * z - Math.log(sd[j]!);
        const logp = -0.5 * ((x - 1) / 0.1) ** 2 - Math.log(0.1);
        acc += logq - logp;
      }
    }
    expect(f.klDivergence(new Rng(0)).dataSync()[0]).toBeCloseTo(acc / n, 1);
  });

  it('Cauchy: the one-sample estimate is unbiased for the closed form log(((s₁+s₂)² + (l₁−l₂)²)/(4s₁s₂))', () => {
    const f = new RankOneFactor('c', 1, { ...base, members: 1, posterior: 'cauchy' }, new Rng(4));
    f.loc.assign(tf.tensor2d([[1.3]]));
    f.rho!.assign(tf.tensor2d([[-2]]));
    const s1 = f.scale().dataSync()[0]!;
    const closed = Math.log(((s1 + 0.1) ** 2 + 0.3 ** 2) / (4 * s1 * 0.1));
    const rng = new Rng(5);
    let acc = 0;
    const n = 4000;
    for (let i = 0; i < n; i++) acc += f.klDivergence(rng).dataSync()[0]!;
    expect(acc / n).toBeCloseTo(closed, 1);
  });

  it('Cauchy log density matches the formula', () => {
    const v = cauchyLogProb(tf.scalar(2), tf.scalar(1), tf.scalar(0.5)).dataSync()[0]!;
    expect(v).toBeCloseTo(-Math.log(Math.PI * 0.5) - Math.log1p(4), 5);
  });

  it('BatchEnsemble factors carry no KL', () => {
    const f = new RankOneFactor('be', 4, { ...base, method: 'batchensemble' }, new Rng(1));
    expect(f.klDivergence(new Rng(0)).dataSync()[0]).toBe(0);
  });
});
