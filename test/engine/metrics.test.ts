import { describe, expect, it } from 'vitest';
import {
  auroc,
  brierScore,
  decompose,
  entropyOf,
  expectedCalibrationError,
  fprAtTpr,
  mixtureNll,
  reliabilityBins,
  thresholdAtTpr,
} from '../../src-main/engine/metrics.js';

describe('entropy decomposition (spec §5)', () => {
  it('agreeing confident members: all entropy is aleatoric, no mutual information', () => {
    const d = decompose([0.5, 0.5, 0.5, 0.5], 2, 2);
    expect(d.predictiveEntropy).toBeCloseTo(Math.log(2), 12);
    expect(d.expectedEntropy).toBeCloseTo(Math.log(2), 12);
    expect(d.mutualInformation).toBeCloseTo(0, 12);
  });
  it('confident disagreeing members: all entropy is epistemic', () => {
    const d = decompose([1, 0, 0, 1], 2, 2);
    expect(d.predictiveEntropy).toBeCloseTo(Math.log(2), 12);
    expect(d.expectedEntropy).toBe(0);
    expect(d.mutualInformation).toBeCloseTo(Math.log(2), 12);
  });
  it('a hand-computed mixed case', () => {
    // members [0.9, 0.1] and [0.5, 0.5]: mean [0.7, 0.3]
    const d = decompose([0.9, 0.1, 0.5, 0.5], 2, 2);
    const h = (p: number) => -(p * Math.log(p) + (1 - p) * Math.log(1 - p));
    expect(d.predictiveEntropy).toBeCloseTo(h(0.7), 12);
    expect(d.expectedEntropy).toBeCloseTo((h(0.9) + h(0.5)) / 2, 12);
    expect(d.mutualInformation).toBeCloseTo(h(0.7) - (h(0.9) + h(0.5)) / 2, 12);
    expect(entropyOf([1, 0])).toBe(0);
  });
});

describe('NLL of the log-mixture', () => {
  it('equals −log of the mean member probability of the true class', () => {
    const p = [0.9, 0.5, 0.2, 0.6];
    expect(mixtureNll(p.map(Math.log))).toBeCloseTo(-Math.log(0.55), 12);
    // stable with very small probabilities
    expect(mixtureNll([-1000, -1000])).toBeCloseTo(1000, 9);
  });
});

describe('Brier', () => {
  it('Σ_c (p_c − [c = y])²', () => {
    expect(brierScore([0.7, 0.2, 0.1], 0)).toBeCloseTo(0.09 + 0.04 + 0.01, 12);
    expect(brierScore([0.7, 0.2, 0.1], 2)).toBeCloseTo(0.49 + 0.04 + 0.81, 12);
  });
});

describe('ECE with 15 equal-width bins (spec §5)', () => {
  it('matches a hand computation', () => {
    // bin of 0.95: 3 images, 2 right → |2/3 − 0.95|; bin of 0.55: 1 image, wrong → |0 − 0.55|
    const conf = [0.95, 0.95, 0.95, 0.55];
    const correct = [1, 1, 0, 0];
    const expected = (3 / 4) * Math.abs(2 / 3 - 0.95) + (1 / 4) * 0.55;
    expect(expectedCalibrationError(conf, correct)).toBeCloseTo(expected, 12);
  });
  it('puts confidence 1.0 in the last bin and skips empty bins', () => {
    const bins = reliabilityBins([1, 0.0], [1, 0]);
    expect(bins).toHaveLength(15);
    expect(bins[14]!.count).toBe(1);
    expect(bins[0]!.count).toBe(1);
    expect(expectedCalibrationError([1, 0], [1, 0])).toBe(0);
  });
});

describe('AUROC (OOD positive, higher score)', () => {
  it('perfect, reversed and chance', () => {
    expect(auroc([1, 2, 3], [4, 5])).toBe(1);
    expect(auroc([4, 5], [1, 2, 3])).toBe(0);
    expect(auroc([1, 1], [1, 1])).toBe(0.5);
  });
  it('counts ties one half (hand-computed)', () => {
    // pairs (in, out): out=2 vs in {1,2,3}: 1 + 0.5 + 0 ; out=3 vs in: 1 + 1 + 0.5 → 4 / 6
    expect(auroc([1, 2, 3], [2, 3])).toBeCloseTo(4 / 6, 12);
  });
});

describe('threshold at 95% TPR and FPR', () => {
  it('keeps 95% of in-distribution scores at or below the threshold', () => {
    const inScores = Array.from({ length: 100 }, (_, i) => i);
    const t = thresholdAtTpr(inScores, 0.95);
    expect(inScores.filter((s) => s <= t).length).toBe(95);
    expect(fprAtTpr(inScores, [10, 20, 200, 300], 0.95)).toBe(0.5);
  });
});
