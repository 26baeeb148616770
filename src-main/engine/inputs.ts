/**
 * What the network reads: batches of images (uint8 pixels, augmented and normalised here) or,
 * for transfer models, batches of precomputed backbone embeddings.
 */
import * as tf from '@tensorflow/tfjs';
import type { ExampleSet } from '../data/types.js';
import { augmentBatch } from './augment.js';
import { pixelsToTensor, type Normalization } from './inference.js';
import type { Rng } from './random.js';
import type { TrainConfig } from './types.js';

export interface InputSource {
  readonly count: number;
  readonly labels: Int32Array;
  readonly files: readonly string[];
  /** A batch as the network's input; `augment` only while training. */
  batch(
    indices: ArrayLike<number>,
    augment?: { config: TrainConfig['augment']; rng: Rng },
  ): Promise<tf.Tensor>;
}

export function pixelSource(
  set: ExampleSet,
  shape: readonly [number, number, number],
  norm: Normalization,
): InputSource {
  return {
    count: set.count,
    labels: set.labels,
    files: set.files,
    async batch(indices, augment) {
      let px = await set.read(indices);
      if (augment && (augment.config.crop || augment.config.flip))
        px = augmentBatch(px, indices.length, shape, augment.config, augment.rng);
      return pixelsToTensor(px, indices.length, shape, norm);
    },
  };
}

/** Precomputed features [n, D] (e.g. backbone embeddings), read by index. */
export interface FeatureSet {
  readonly count: number;
  readonly dim: number;
  readonly labels: Int32Array;
  readonly files: readonly string[];
  read(indices: ArrayLike<number>): Promise<Float32Array>;
}

export function featureSource(set: FeatureSet): InputSource {
  return {
    count: set.count,
    labels: set.labels,
    files: set.files,
    async batch(indices) {
      return tf.tensor2d(await set.read(indices), [indices.length, set.dim]);
    },
  };
}
