/**
 * What the service needs from the engine and the data room, typed from those rooms' own public
 * APIs (`engine/index.ts`, `data/index.ts`), so nothing here guesses a shape. Test fakes fit the
 * same types.
 */
import type * as data from '../data/index.js';
import type * as engine from '../engine/index.js';

/** What `trainModel` takes (the engine's own request type). */
export type EngineTrainRequest = engine.TrainRequest;

/** A loaded model: the engine's `LoadedModel`. */
export type EngineModel = engine.LoadedModel;
export type EnginePrediction = Awaited<ReturnType<EngineModel['predict']>>[number];
export type EngineEvaluation = engine.EvaluationReport;

/** The active backend, as far as the service reports it (`system.info`). */
export type BackendSummary = { name: string; device: string };

export interface EngineApi {
  trainModel: typeof engine.trainModel;
  loadModel: typeof engine.loadModel;
  /** Absent in fakes that have no backends to choose from. */
  initBackend?(requested?: Parameters<typeof engine.initBackend>[0]): Promise<BackendSummary>;
  currentBackend?(): BackendSummary | undefined;
  availableBackends?(): Promise<{ name: string; available: boolean; reason?: string }[]>;
  /** Loads (downloads) a backbone and embeds the splits; undefined for 'none'. */
  prepareTransfer?: typeof engine.prepareTransfer;
  chooseBackbone?: typeof engine.chooseBackbone;
  /** Trains and measures several methods on one split (`compare.start`); absent in most fakes. */
  compareMethods?: typeof engine.compareMethods;
  /** The ONNX export (engine/export); absent in fakes. */
  exportOnnx?: typeof engine.exportOnnx;
  writeExportFile?: typeof engine.writeExportFile;
  /** "Import a backbone…": check a TF.js folder and register a copy under the data home. */
  importBackbone?: typeof engine.importBackbone;
  listImported?: typeof engine.listImported;
  BUILTIN_BACKBONES?: typeof engine.BUILTIN_BACKBONES;
}

export type ImportedDataset = data.ImportedDataset;
export type DatasetImportOptions = data.ImportOptions;
export type DataApi = Pick<
  typeof data,
  | 'dataHome'
  | 'prepareImage'
  | 'scanFolder'
  | 'importDataset'
  | 'listDatasets'
  | 'removeDataset'
  | 'thumbnail'
>;
