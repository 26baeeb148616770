/** Messages between the main thread (pool.ts) and a worker replica (worker.ts). Plain data only. */
import type { PredictionFactors } from '../models/prediction-factors.js';
import type { BackendName, ModelConfig } from '../types.js';

export interface WorkerInit {
  config: ModelConfig;
  backend: BackendName;
}

/** One slice of the batch: `examples` unique examples, tiled K times inside the worker. */
export interface Chunk {
  index: number;
  x: Float32Array;
  /** [examples, ...per-example shape]. */
  shape: number[];
  /** Training only. */
  labels?: Int32Array;
  /**
   * Training only: x and labels already hold K member-major blocks of `shape[0] / K` examples
   * each (TrainConfig.memberBatches 'independent'), so the worker does not tile them.
   */
  pretiled?: boolean;
  /** Seed of the chunk's factor samples (each chunk draws its own, so results do not depend on the worker count). */
  seed: number;
}

/** Trainable values then BN moving statistics, in `model.params()` / `model.state()` order. */
export interface Weights {
  version: number;
  params: Float32Array[];
  state: Float32Array[];
}

export type Request =
  | {
      type: 'train';
      id: number;
      weights?: Weights;
      chunks: Chunk[];
      K: number;
      totalRows: number;
      numClasses: number;
      /** TrainConfig.objective; absent: the average of the members' NLLs. */
      objective?: 'mixture';
    }
  | {
      type: 'forward';
      id: number;
      weights?: Weights;
      chunks: Chunk[];
      K: number;
      samples: number;
      /** Prediction's fixed factor values (then `samples` = factors.samples and the seeds go unused). */
      factors?: Pick<PredictionFactors, 'members' | 'layers'>;
    }
  | { type: 'close'; id: number };

export interface TrainChunkResult {
  index: number;
  /** ∂(Σ_chunk CE / totalRows)/∂param, `null` where a parameter gets no gradient. */
  grads: (Float32Array | null)[];
  nllSum: number;
  correct: number;
  /** (1 − momentum) × this chunk's batch statistics, in `model.state()` order (ghost batch norm). */
  stats: Float32Array[];
}

export interface ForwardChunkResult {
  index: number;
  /** [S, K·b, C] logits (S samples, member-major rows). */
  logits: Float32Array;
  /** [S, K·b, D] penultimate features. */
  features: Float32Array;
  C: number;
  D: number;
}

export type Response =
  | { type: 'ready' }
  /** numTensors: the worker's live tensors after the request (leak checks). */
  | { type: 'train'; id: number; results: TrainChunkResult[]; numTensors: number }
  | { type: 'forward'; id: number; results: ForwardChunkResult[] }
  | { type: 'closed'; id: number }
  | { type: 'error'; id: number; message: string; stack?: string };
