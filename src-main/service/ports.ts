/**
 * What the service needs from the engine and the data room (structural, so test fakes fit).
 */
import type { EvaluateResult, Settings } from '../contract.js';
import type { DatasetMetrics, ImagePrediction, OodMetrics } from '../engine/types.js';
import type { ExampleSet, PreparedImage, Preprocessing } from '../data/types.js';
import type { TrainRequest } from '../engine/train.js';
import type { ModelMeta } from '../store/index.js';

/** What `trainModel` takes (the engine's own request type; fakes in tests fit it). */
export type EngineTrainRequest = TrainRequest;

export type EnginePrediction = ImagePrediction & {
  scores?: Record<string, number>;
  flag?: { score: string; value: number; threshold: number };
};

export interface EngineEvaluation {
  metrics: DatasetMetrics;
  ood?: OodMetrics & { scores?: Record<string, { auroc: number; fpr95: number }> };
  items: EvaluateResult['items'];
  oodItems?: EvaluateResult['oodItems'];
}

export interface EngineModel {
  dir: string;
  meta: ModelMeta;
  predict(pixels: Uint8Array, count: number, opts?: { samples?: number }): Promise<EnginePrediction[]>;
  evaluate(
    set: ExampleSet,
    opts?: {
      samples?: number;
      ood?: ExampleSet;
      signal?: AbortSignal;
      onProgress?: (done: number, total: number) => void;
    },
  ): Promise<EngineEvaluation>;
  dispose(): void;
}

export interface EngineApi {
  trainModel(req: EngineTrainRequest): Promise<ModelMeta>;
  loadModel(dir: string): Promise<EngineModel>;
  initBackend?(requested?: Settings['backend']): Promise<{ name: string; device: string }>;
  currentBackend?(): { name: string; device: string } | undefined;
  availableBackends?(): Promise<{ name: string; available: boolean; reason?: string }[]>;
  /** Loads (downloads) a backbone and embeds the splits; undefined for 'none'. */
  prepareTransfer?(
    backbone: string,
    dataset: { splits: { train: ExampleSet; val: ExampleSet } },
    opts: { signal?: AbortSignal; onProgress?: (p: unknown) => void },
  ): Promise<TrainRequest['backbone']>;
  chooseBackbone?(given: string | undefined, channels: 1 | 3, size: number): string;
}

export interface ImportedDataset {
  id: string;
  root: string;
  classes: string[];
  preprocessing: Preprocessing;
  splits: { train: ExampleSet; val: ExampleSet; test: ExampleSet };
  report?: unknown;
}

export interface DatasetImportOptions {
  imageSize?: number;
  fit?: 'cover' | 'contain';
  channels?: 1 | 3 | 'auto';
  valFraction?: number;
  testFraction?: number;
  seed?: number;
  signal?: AbortSignal;
  onProgress?: (p: unknown) => void;
}

export interface DataApi {
  dataHome?(): string;
  prepareImage(input: string | Buffer, prep: Preprocessing): Promise<PreparedImage>;
  scanFolder(root: string, opts?: { signal?: AbortSignal }): Promise<unknown>;
  importDataset(root: string, opts: DatasetImportOptions): Promise<ImportedDataset>;
  listDatasets(): Promise<unknown[]>;
  removeDataset(id: string): Promise<unknown>;
  thumbnail(file: string | Buffer, size: number): Promise<unknown>;
}
