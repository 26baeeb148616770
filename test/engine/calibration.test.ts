import { describe, expect, it } from 'vitest';
import {
  calibrationMetrics,
  fitTemperature,
  LOG_T_PRIOR_SD,
  mixtureNllAt,
  type MemberLogits,
} from '../../src-main/engine/calibration.js';
import { expectedCalibrationError, mixtureNll } from '../../src-main/engine/metrics.js';
import { Rng } from '../../src-main/engine/random.js';

/**
 * n images whose labels are drawn from softmax(z) (M members sharing z plus a little member
 * noise), and logits `scale`·z: an over-confident network when scale > 1; the NLL-optimal
 * temperature is then ≈ scale.
 */
function synthetic(n: number, M: number, C: number, scale: number, seed: number) {
  const rng = new Rng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const logits = new Float32Array(n * M * C);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: C }, () => 2 * gauss());
    const p = z.map(Math.exp);
    const sum = p.reduce((a, b) => a + b, 0);
    let u = rng.next() * sum;
    labels[i] = p.findIndex((v) => (u -= v) < 0);
    if (labels[i]! < 0) labels[i] = C - 1;
    for (let m = 0; m < M; m++)
      for (let c = 0; c < C; c++) logits[(i * M + m) * C + c] = scale * (z[c]! + 0.05 * gauss());
  }
  return { x: { logits, n, M, C } satisfies MemberLogits, labels };
}

describe('temperature scaling of the mixture (issue 16 item 1)', () => {
  it('at T = 1 the NLL is the spec’s log-mixture NLL of the member log-softmaxes', () => {
    const x: MemberLogits = { logits: Float32Array.of(2, 0, 1, 1, -1, 3, 0, 0), n: 2, M: 2, C: 2 };
    const labels = [0, 1];
    const logSoftmax = (a: number, b: number, y: number) => {
      const lz = Math.log(Math.exp(a) + Math.exp(b));
      return (y === 0 ? a : b) - lz;
    };
    const want =
      (mixtureNll([logSoftmax(2, 0, 0), logSoftmax(1, 1, 0)]) +
        mixtureNll([logSoftmax(-1, 3, 1), logSoftmax(0, 0, 1)])) /
      2;
    expect(mixtureNllAt(x, labels, 1)).toBeCloseTo(want, 10);
    // T divides the logits: T = 2 equals T = 1 on halved logits
    const half: MemberLogits = { ...x, logits: x.logits.map((v) => v / 2) };
    expect(mixtureNllAt(x, labels, 2)).toBeCloseTo(mixtureNllAt(half, labels, 1), 10);
  });

  it('recovers the temperature of an over-confident network, at a stationary point of NLL + prior', () => {
    const { x, labels } = synthetic(4000, 4, 5, 3, 1);
    const T = fitTemperature(x, labels);
    expect(T).toBeGreaterThan(2.6);
    expect(T).toBeLessThan(3.4);
    // finite differences in log T: the fitted T is a minimum of the NLL plus the prior on log T
    const f = (u: number) => mixtureNllAt(x, labels, Math.exp(u)) + (u * u) / (2 * LOG_T_PRIOR_SD ** 2 * x.n);
    const u = Math.log(T);
    const h = 1e-3;
    expect(Math.abs((f(u + h) - f(u - h)) / (2 * h))).toBeLessThan(1e-3);
    expect(f(u + 0.1)).toBeGreaterThan(f(u));
    expect(f(u - 0.1)).toBeGreaterThan(f(u));
  });

  it('leaves a calibrated network alone (T ≈ 1) and lowers NLL and ECE of an over-confident one', () => {
    const calibrated = synthetic(4000, 2, 4, 1, 2);
    expect(fitTemperature(calibrated.x, calibrated.labels)).toBeCloseTo(1, 0);
    const over = synthetic(3000, 2, 4, 2.5, 3);
    const T = fitTemperature(over.x, over.labels);
    const before = calibrationMetrics(over.x, over.labels, 1);
    const after = calibrationMetrics(over.x, over.labels, T);
    expect(after.nll).toBeLessThan(before.nll);
    expect(after.ece).toBeLessThan(before.ece);
    expect(after.ece).toBeLessThan(0.03);
  });

  it('reports ECE and reliability like metrics.ts on the mixture’s top class', () => {
    const x: MemberLogits = { logits: Float32Array.of(3, 0, 0, 3, 1, 0), n: 3, M: 1, C: 2 };
    const labels = [0, 0, 0];
    const p = (a: number, b: number) => Math.exp(Math.max(a, b)) / (Math.exp(a) + Math.exp(b));
    const conf = [p(3, 0), p(0, 3), p(1, 0)];
    const m = calibrationMetrics(x, labels, 1);
    expect(m.ece).toBeCloseTo(expectedCalibrationError(conf, [true, false, true]), 10);
    expect(m.reliability.reduce((a, b) => a + b.count, 0)).toBe(3);
  });

  it('a handful of validation images cannot drive T to the edge of its range', () => {
    // Seen with 2 classes × 15 images: 4 validation images, all right at ~90% confidence. Their NLL
    // alone falls without bound as T → 0, and T = 0.05 made every later prediction (letters, an
    // unseen digit) 100% sure with zero entropy.
    const four: MemberLogits = {
      logits: Float32Array.of(2.5, 0, 2, 0.2, 0, 2.2, 0.1, 2.8),
      n: 4,
      M: 1,
      C: 2,
    };
    const labels = [0, 0, 1, 1];
    const T = fitTemperature(four, labels);
    expect(T).toBeGreaterThan(0.5);
    expect(T).toBeLessThanOrEqual(1);
    // Two images that happen to be wrong and unsure do not flatten the model either.
    const two: MemberLogits = { logits: Float32Array.of(0.3, 0, 0, 0.4), n: 2, M: 1, C: 2 };
    const T2 = fitTemperature(two, [1, 0]);
    expect(T2).toBeGreaterThanOrEqual(1);
    expect(T2).toBeLessThan(2);
    // The same over-confidence seen on thousands of images is still corrected in full.
    const many = synthetic(4000, 2, 4, 2.5, 5);
    expect(fitTemperature(many.x, many.labels)).toBeGreaterThan(2.2);
  });

  it('T = 1 when there is nothing to fit on', () => {
    expect(fitTemperature({ logits: new Float32Array(), n: 0, M: 1, C: 2 }, [])).toBe(1);
  });
});
