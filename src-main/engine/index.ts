/**
 * The engine room: TensorFlow.js backends, rank-1 layers, models, training, prediction and
 * metrics. This file is the only one other rooms import.
 */
export * from './types.js';
export { initBackend, currentBackend, availableBackends, VERBOSE_ENV } from './backends/index.js';
export { trainModel, type TrainRequest } from './train.js';
export { compareMethods, parameterCount, type CompareRequest, type CompareRow } from './compare.js';
export { loadModel, type LoadedModel, type EvaluationReport } from './predict.js';
export type { LayerFactors, PredictionFactors } from './models/prediction-factors.js';
export { presets, resolveTrainConfig, resolveModelConfig, chooseBackbone } from './defaults.js';
export { subset, concat, byFiles } from './example-sets.js';
export { SCORE_NAMES, type ScoreName } from './ood.js';
export { DEFAULT_FLAG_SCORE } from './train.js';
export { benchResnet20, type BenchResult } from './bench.js';
export {
  prepareTransfer,
  BackboneUnavailableError,
  BUILTIN_BACKBONES,
  DEFAULT_BACKBONE,
  backboneName,
  type TransferProgress,
} from './backbones/index.js';
export {
  exportOnnx,
  writeExportFile,
  ExportTargetError,
  UnsupportedLayerError,
  type OnnxExport,
} from './export/index.js';
