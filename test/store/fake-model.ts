/** A small, valid model folder for store and service tests (no engine needed). */
import type { ModelMeta, NamedWeight } from '../../src-main/store/index.js';
import { TEST_FACTORS } from '../engine/helpers.js';

export function fakeMeta(
  overrides: Partial<ModelMeta> = {},
): Omit<ModelMeta, 'weights' | 'format' | 'formatVersion'> {
  const classes = overrides.classes ?? ['0', '1'];
  return {
    id: 'm',
    name: 'Test model',
    createdAt: '2026-01-01T00:00:00.000Z',
    classes,
    config: {
      arch: 'mlp',
      ...TEST_FACTORS,
      inputShape: [28, 28, 1],
      numClasses: classes.length,
      hidden: 8,
    },
    train: {
      epochs: 1,
      batchSize: 8,
      optimizer: 'adam',
      learningRate: 0.001,
      warmupEpochs: 0,
      lrDecayAt: [],
      lrDecayRatio: 0.1,
      l2: 0,
      factorLrMultiplier: 1,
      klAnnealFraction: 0.5,
      augment: { crop: false, flip: false },
      seed: 0,
      evalSamples: 1,
    },
    preprocessing: { size: 28, channels: 1, fit: 'cover', background: { r: 255, g: 255, b: 255 } },
    normalization: { mean: [0.5], std: [0.25] },
    trainSize: 10,
    history: [],
    epoch: 1,
    ...overrides,
  };
}

export function fakeWeights(seed = 1): NamedWeight[] {
  return [
    {
      name: 'dense/kernel',
      shape: [4, 3],
      data: Float32Array.from({ length: 12 }, (_, i) => (i + seed) / 10),
    },
    { name: 'dense/bias', shape: [3], data: Float32Array.from([seed, 0, -seed]) },
  ];
}
