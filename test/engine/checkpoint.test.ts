/** Saved weights meet a freshly built model: mismatches are a ModelFormatError, never a crash. */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { assignWeights, collectWeights, statsFromWeights } from '../../src-main/engine/checkpoint.js';
import { resolveModelConfig } from '../../src-main/engine/defaults.js';
import { ModelFormatError } from '../../src-main/engine/model-format.js';
import { buildModel } from '../../src-main/engine/models/index.js';
import { Rng } from '../../src-main/engine/random.js';

const shape = { size: 8, channels: 1 as const, count: 10, numClasses: 2 };
const build = () => buildModel(resolveModelConfig(shape, { arch: 'mlp', members: 2, hidden: 4 }), new Rng(1));

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const stats = (D: number, cholD = D, bankD = D) => [
  { name: 'ood/means', shape: [2, D], data: new Float32Array(2 * D) },
  { name: 'ood/chol', shape: [cholD, cholD], data: new Float32Array(cholD * cholD) },
  { name: 'ood/bank', shape: [3, bankD], data: new Float32Array(3 * bankD) },
  { name: 'ood/k', shape: [1], data: Float32Array.of(2) },
];

describe('checkpoint', () => {
  it('round-trips a model through named weights', async () => {
    const a = build();
    const b = build();
    const saved = await collectWeights(a);
    assignWeights(b, saved, 'm');
    expect(await collectWeights(b)).toEqual(saved);
    a.dispose();
    b.dispose();
  });

  it('a missing or reshaped tensor is a ModelFormatError naming it', async () => {
    const m = build();
    const saved = await collectWeights(m);
    const missing = saved.slice(1);
    expect(() => assignWeights(m, missing, 'dir')).toThrow(ModelFormatError);
    expect(() => assignWeights(m, missing, 'dir')).toThrow(
      /^dir: weights\.bin lacks ".+" \(model and weights do not match\)$/,
    );
    const reshaped = saved.map((w, i) => (i === 0 ? { ...w, shape: [w.data.length] } : w));
    expect(() => assignWeights(m, reshaped, 'dir')).toThrow(
      /weights\.bin: ".+" has shape \[\d+\], the model expects \[/,
    );
    m.dispose();
  });

  it('a tensor the model does not have is a ModelFormatError naming it; OOD statistics and prediction factors are expected extras', async () => {
    const m = build();
    const saved = await collectWeights(m);
    const extra = { name: 'dense_9/kernel', shape: [2], data: Float32Array.of(1, 2) };
    expect(() => assignWeights(m, [...saved, extra], 'dir')).toThrow(
      /^dir: weights\.bin holds "dense_9\/kernel", which this model does not have \(model and weights do not match\)$/,
    );
    const factor = { name: 'prediction/x/alpha', shape: [1], data: Float32Array.of(1) };
    expect(() => assignWeights(m, [...saved, ...stats(4), factor], 'dir')).not.toThrow();
    m.dispose();
  });

  it('OOD statistics: absent gives none, agreeing shapes load, disagreeing ones are refused', () => {
    expect(statsFromWeights([])).toBeUndefined();
    expect(statsFromWeights(stats(4))).toMatchObject({ classes: 2, D: 4, k: 2 });
    expect(() => statsFromWeights(stats(4, 5), 'dir')).toThrow(ModelFormatError);
    expect(() => statsFromWeights(stats(4, 4, 3), 'dir')).toThrow(
      /^dir: weights\.bin: the OOD statistics have shapes that do not agree/,
    );
  });
});
