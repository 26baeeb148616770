import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src-main/engine/backends/index.js';
import {
  CancelledError,
  evaluateExamples,
  imagesAtTemperature,
  summarize,
  type MemberRunner,
} from '../../src-main/engine/evaluate.js';
import { withTemperature } from '../../src-main/engine/inference.js';
import type { InputSource } from '../../src-main/engine/inputs.js';
import type { Rank1Model } from '../../src-main/engine/models/index.js';
import { Rng } from '../../src-main/engine/random.js';

beforeAll(async () => {
  await initBackend('wasm');
});

/**
 * Three images, two members, two classes; the "network" returns these logits for image i
 * whatever the batch (the input tensor's single value is the image index).
 */
const LOGITS = [
  [
    [2, 0],
    [1, 0],
  ], // both members say class 0
  [
    [0, 2],
    [2, 0],
  ], // members disagree
  [
    [0, 3],
    [0, 1],
  ], // both say class 1
];
const LABELS = [0, 0, 1];

const source: InputSource = {
  count: 3,
  labels: Int32Array.from(LABELS),
  files: ['a.png', 'b.png', 'c.png'],
  batch: async (idx) =>
    tf.tensor2d(
      Array.from(idx, (i) => [i]),
      [idx.length, 1],
    ),
};

const runner: MemberRunner = async (_m, x) => {
  const idx = Array.from(await x.data());
  const logits = Float32Array.from(idx.flatMap((i) => LOGITS[i]!.flat()));
  return withTemperature({ B: idx.length, M: 2, C: 2, logits, features: Float32Array.from(idx), D: 1 }, 1);
};

const softmax = (l: number[]) => {
  const e = l.map(Math.exp);
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
const H = (p: number[]) => -p.reduce((a, v) => a + (v > 0 ? v * Math.log(v) : 0), 0);

const model = { config: { method: 'rank1', members: 2 } } as unknown as Rank1Model;

describe('evaluateExamples', () => {
  it('per image: mixture mean, entropy split, NLL and Brier as hand-computed (spec §5)', async () => {
    const out = await evaluateExamples(model, source, {
      samples: 1,
      rng: new Rng(0),
      run: runner,
      batchSize: 2,
    });
    expect(out.images.map((r) => r.index)).toEqual([0, 1, 2]);
    LOGITS.forEach((members, i) => {
      const ps = members.map(softmax);
      const mean = [0, 1].map((c) => (ps[0]![c]! + ps[1]![c]!) / 2);
      const r = out.images[i]!;
      expect(r.probabilities[0]).toBeCloseTo(mean[0]!, 6);
      expect(r.predicted).toBe(mean[0]! >= mean[1]! ? 0 : 1);
      expect(r.entropy).toBeCloseTo(H(mean), 6);
      expect(r.expectedEntropy).toBeCloseTo((H(ps[0]!) + H(ps[1]!)) / 2, 6);
      expect(r.mutualInformation).toBeCloseTo(H(mean) - (H(ps[0]!) + H(ps[1]!)) / 2, 6);
      expect(r.nll).toBeCloseTo(-Math.log(mean[LABELS[i]!]!), 6);
      const y = LABELS[i]!;
      expect(r.brier).toBeCloseTo(
        (mean[0]! - (y === 0 ? 1 : 0)) ** 2 + (mean[1]! - (y === 1 ? 1 : 0)) ** 2,
        6,
      );
    });
  });

  it('summarize: accuracy, per-class accuracy, confusion and ECE of those images', async () => {
    const { images } = await evaluateExamples(model, source, { samples: 1, rng: new Rng(0), run: runner });
    const m = summarize(images, 2);
    // image 1: mean p(0) = (σ(−2) + σ(2))/2 = 0.5 → argmax picks class 0 (first max): correct
    expect(images.map((r) => r.predicted)).toEqual([0, 0, 1]);
    expect(m.accuracy).toBe(1);
    expect(m.perClassAccuracy).toEqual([1, 1]);
    expect(m.confusion).toEqual([
      [2, 0],
      [0, 1],
    ]);
    const conf = images.map((r) => r.confidence);
    // all correct: ECE = mean(1 − confidence) when each image is in its own bin… in any binning,
    // Σ_bins n_b/N |acc_b − conf_b| = mean(1 − conf) since acc_b = 1 everywhere
    expect(m.ece).toBeCloseTo(conf.reduce((a, c) => a + (1 - c), 0) / 3, 6);
    expect(m.nll).toBeCloseTo(images.reduce((a, r) => a + r.nll, 0) / 3, 10);
  });

  it('temperature: the option, and rescoring kept logits, give the same images', async () => {
    const T = 1.7;
    const direct = await evaluateExamples(model, source, {
      samples: 1,
      rng: new Rng(0),
      run: runner,
      temperature: T,
    });
    const kept = await evaluateExamples(model, source, {
      samples: 1,
      rng: new Rng(0),
      run: runner,
      keepLogits: true,
      keepFeatures: true,
    });
    expect(kept.logits!.M).toBe(2);
    const again = imagesAtTemperature(kept, source.labels, T);
    direct.images.forEach((r, i) => {
      expect(again[i]!.nll).toBeCloseTo(r.nll, 6);
      expect(again[i]!.entropy).toBeCloseTo(r.entropy, 6);
      expect(again[i]!.scores.energy).toBeCloseTo(r.scores.energy, 6);
    });
    // softer members: higher entropy than at T = 1
    expect(direct.images[0]!.entropy).toBeGreaterThan(kept.images[0]!.entropy);
  });

  it('unlabelled sets (OOD) get NaN NLL and no label; a cancelled signal stops before the next batch', async () => {
    const { images } = await evaluateExamples(model, source, {
      samples: 1,
      rng: new Rng(0),
      run: runner,
      labelled: false,
    });
    expect(images.every((r) => r.label === -1 && Number.isNaN(r.nll))).toBe(true);
    const ac = new AbortController();
    ac.abort();
    await expect(
      evaluateExamples(model, source, { samples: 1, rng: new Rng(0), run: runner, signal: ac.signal }),
    ).rejects.toBeInstanceOf(CancelledError);
  });
});
