/**
 * The service contract: every operation the UI (and the CLI) can ask for, the events the service
 * streams back, and the runtime schemas of the arguments. Shared by main, utility process and
 * renderer, so it imports nothing but zod and plain types.
 *
 * Long operations (import, train, evaluate, predict) are jobs: the call returns `{ jobId }` at once,
 * progress and results arrive as `job.*` events, and `jobs.cancel` stops them.
 */
import { z } from 'zod';
import { ServiceError, type ServiceErrorShape } from './contract/errors.js';
import { describeIssue } from './contract/issues.js';
import {
  pathKinds,
  pathsIn,
  stringFieldsOf,
  type PathKind,
  type StringField,
} from './contract/schema-paths.js';
import {
  MAX_FINE_TUNE_BLOCKS,
  METHODS,
  SCORE_NAMES,
  settingsSchema,
  type CompareRow,
  type DatasetSummary as CachedDataset,
  type DatasetMetrics,
  type EpochMetrics,
  type EvaluationReport,
  type ImagePrediction,
  type ImportProgress,
  type ImportReport,
  type Method,
  type ModelConfig,
  type ModelFacts,
  type OodMetrics,
  type Preprocessing,
  type Settings,
  type TrainConfig,
  type TrainEvent,
  type TransferProgress,
} from './common/index.js';

export type {
  CompareRow,
  DatasetMetrics,
  EpochMetrics,
  ImagePrediction,
  ModelConfig,
  OodMetrics,
  TrainConfig,
  TrainEvent,
};
export type { ImportProgress, ImportReport, Preprocessing, TransferProgress };
export type { Method, SkippedFile } from './common/index.js';
import type * as wire from './common/index.js';
export type { BackboneSummary, UploadChunkDone, UploadFinished, UploadStarted } from './common/index.js';

export { errorCodes, ServiceError, type ErrorCode, type ServiceErrorShape } from './contract/errors.js';
export { ServiceClient } from './contract/client.js';

// ---------------------------------------------------------------------------------------------
// Argument schemas (strict: unknown fields are refused)

const MAX_PATH = 4096;

const pathOf = (pathKind: PathKind) => z.string().min(1).max(MAX_PATH).register(pathKinds, { pathKind });
const path = pathOf('path');
/** A dataset id or folder, a backbone name or folder. */
const pathOrId = pathOf('path-or-id');
const id = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9._-]+$/, 'must hold letters, digits, dot, dash and underscore only');
const name = z.string().min(1).max(200);
/**
 * A model: its id from `models.list`, or the absolute path of a model folder the user gave (the
 * CLI's MODEL_DIR; checked against the grants like any path).
 */
const modelRef = z
  .string()
  .min(1)
  .max(MAX_PATH)
  .refine((s) => /^[A-Za-z0-9._-]+$/.test(s) || /^([A-Za-z]:)?[\\/]/.test(s), {
    message: 'must be a model id (letters, digits, dot, dash, underscore) or an absolute folder path',
  })
  .register(pathKinds, { pathKind: 'path-or-id' });
/** Bytes from a drop or an upload, base64; capped so one message stays bounded. */
const droppedFile = z.strictObject({ name: name, base64: z.string().max(48 * 1024 * 1024) });

export const preprocessingArgs = z.strictObject({
  imageSize: z.number().int().min(16).max(256).optional(),
  fit: z.enum(['cover', 'contain']).optional(),
  channels: z.union([z.literal(1), z.literal(3), z.literal('auto')]).optional(),
});

export const trainArgs = z.strictObject({
  /** A dataset id or a folder path; left out with `resumeFrom`: the checkpoint's own folder. */
  dataset: pathOrId.optional(),
  name: name.optional(),
  preset: z.enum(['quick', 'balanced', 'best']).optional(),
  arch: z.enum(['auto', 'mlp', 'cnn', 'resnet20', 'wrn-28-10']).optional(),
  backbone: pathOrId.optional(),
  method: z.enum(METHODS).optional(),
  members: z.number().int().min(1).max(16).optional(),
  posterior: z.enum(['gaussian', 'cauchy']).optional(),
  epochs: z.number().int().min(1).max(1000).optional(),
  batchSize: z.number().int().min(1).max(4096).optional(),
  learningRate: z.number().positive().max(10).optional(),
  optimizer: z.enum(['sgd', 'adam']).optional(),
  augment: z.strictObject({ crop: z.boolean(), flip: z.boolean() }).partial().optional(),
  valFraction: z.number().min(0).max(0.5).optional(),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .optional(),
  /** Continue the training of this model (id or folder) from its last checkpoint. */
  resumeFrom: modelRef.optional(),
  /** P(+1) of the random-sign factor init; ≤ 0 means Normal(1, −p) (spec §3). */
  randomSignInit: z.number().min(-1).max(1).optional(),
  /** Images kept out of training and validation for a later `evaluate`. */
  testFraction: z.number().min(0).max(0.5).optional(),
  /**
   * Write the model to this folder instead of the data home (the CLI's `--out`): it must be absent,
   * empty, or a model folder (then replaced), never the dataset or a folder holding it.
   */
  out: path.optional(),
  /** Fit a temperature on the validation split after training (issue 16); default true. */
  calibrate: z.boolean().optional(),
  /** Train the backbone's last N blocks with rank-1 factors (issue 16 item 6); 0 = frozen. */
  fineTune: z.number().int().min(0).max(MAX_FINE_TUNE_BLOCKS).optional(),
  ...preprocessingArgs.shape,
});

/** Held-out share of a folder `compare.start` measures every method on (a fresh split per run). */
export const COMPARE_TEST_FRACTION = 0.2;

/**
 * `compare.start` (issue 16 item 5): the paper's table on the user's own data. Every method is
 * trained with the same train options on one split and seed, then measured on the same held-out
 * (test) images and OOD folder.
 */
export const compareArgs = z.strictObject({
  // Required here (train.start may leave it out only to resume a checkpoint).
  dataset: trainArgs.shape.dataset.unwrap(),
  methods: z
    .array(z.enum(METHODS))
    .min(1)
    .max(METHODS.length)
    .refine((m) => new Set(m).size === m.length, { message: 'must name each method once' }),
  ood: path.optional(),
  testFraction: z.number().min(0.05).max(0.5).optional(),
  ...trainArgs.pick({
    preset: true,
    arch: true,
    backbone: true,
    members: true,
    posterior: true,
    epochs: true,
    batchSize: true,
    learningRate: true,
    optimizer: true,
    augment: true,
    valFraction: true,
    seed: true,
    imageSize: true,
    fit: true,
    channels: true,
    randomSignInit: true,
    calibrate: true,
    fineTune: true,
  }).shape,
});

export const evaluateArgs = z.strictObject({
  model: modelRef,
  dataset: pathOrId,
  /**
   * auto (default): the held-out val + test when the dataset is the model's own, else all; train,
   * val and test on the model's own folder are its own split (the held-out lists in model.json).
   */
  split: z.enum(['auto', 'all', 'train', 'val', 'test']).optional(),
  ood: path.optional(),
  samples: z.number().int().min(1).max(64).optional(),
});

export const predictArgs = z
  .strictObject({
    model: modelRef,
    paths: z.array(path).max(10_000).optional(),
    files: z.array(droppedFile).max(256).optional(),
    samples: z.number().int().min(1).max(64).optional(),
    thumbnails: z.boolean().optional(),
  })
  .refine((a) => (a.paths?.length ?? 0) + (a.files?.length ?? 0) > 0, {
    message: 'give at least one path or file',
    path: ['paths'],
  });

/** One row of a prediction result as streamed and exported. */
// A type alias, not an interface, so rows are assignable to the loose row schema's input type.
export type PredictionRow = Partial<ImagePrediction> & {
  file: string;
  name: string;
  error?: string;
  /** Why the OOD flag was raised: which score, its value, the threshold. */
  flag?: { score: string; value: number; threshold: number };
  scores?: Record<string, number>;
  /** Small JPEG as a data: URL, when asked for. */
  thumbnail?: string;
  uncertain?: boolean;
  /** Class name → predictive probability (the CSV's p_<class> columns). */
  probs?: Record<string, number>;
  /** The image came as dropped bytes, not from a file on disk (`file` is then its name). */
  dropped?: boolean;
  /** The model's warning (e.g. no OOD threshold, so nothing is flagged), on every row. */
  warning?: string;
};

const predictionRow = z.looseObject({
  file: z.string().max(MAX_PATH).register(pathKinds, { pathKind: 'row-file' }),
  name: z.string().max(MAX_PATH),
  label: z.string().max(200).optional(),
  confidence: z.number().optional(),
  entropy: z.number().optional(),
  expectedEntropy: z.number().optional(),
  mutualInformation: z.number().optional(),
  ood: z.boolean().optional(),
  uncertain: z.boolean().optional(),
  error: z.string().max(2000).optional(),
  warning: z.string().max(2000).optional(),
});

export { settingsSchema, defaultSettings, type Settings } from './common/index.js';
export {
  DEFAULT_FINE_TUNE_BLOCKS,
  DEFAULT_MEMBERS,
  DEFAULT_PREDICT_BATCH,
  DEFAULT_SPLIT_SEED,
  DEFAULT_TEST_FRACTION,
  DEFAULT_TRAIN_SEED,
  DEFAULT_VAL_FRACTION,
  MAX_FINE_TUNE_BLOCKS,
  METHODS,
  METHOD_LABELS,
  SCORE_NAMES,
  SCORE_WORDS,
  SINGLE_NETWORK_METHODS,
} from './common/index.js';
export { flagRule, scoreLabel } from './contract/flag-words.js';
export {
  leftOutSummary,
  measuredFolders,
  skippedLines,
  unknownClassLine,
  type SourceFolder,
} from './contract/skipped-words.js';
export type { ScoreName } from './common/index.js';
export type { PathKind, StringField } from './contract/schema-paths.js';
export { listeners, type Listeners } from './common/index.js';

/** What `models.export` writes. */
export const EXPORT_FORMATS = ['zip', 'onnx'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const operations = {
  'system.info': z.strictObject({}),
  'datasets.scan': z.strictObject({ path }),
  'datasets.import': z.strictObject({
    path,
    valFraction: z.number().min(0).max(0.5).optional(),
    testFraction: z.number().min(0).max(0.5).optional(),
    seed: z.number().int().min(0).optional(),
    ...preprocessingArgs.shape,
  }),
  'datasets.list': z.strictObject({}),
  'datasets.remove': z.strictObject({ id }),
  'datasets.files': z.strictObject({
    id,
    split: z.enum(['all', 'train', 'val', 'test']).optional(),
    className: name.optional(),
    offset: z.number().int().min(0).optional(),
    limit: z.number().int().min(1).max(1000).optional(),
  }),
  'datasets.thumbnail': z.strictObject({
    file: pathOf('dataset-file'),
    size: z.number().int().min(16).max(512).optional(),
  }),
  'train.start': trainArgs,
  'train.status': z.strictObject({}),
  'compare.start': compareArgs,
  'jobs.cancel': z.strictObject({ jobId: id }),
  'jobs.list': z.strictObject({}),
  'models.list': z.strictObject({}),
  'models.get': z.strictObject({ id: modelRef }),
  'models.rename': z.strictObject({ id, name }),
  'models.remove': z.strictObject({ id }),
  /** Put another score behind the OOD flag (each score's threshold is fitted at training). */
  'models.setFlag': z.strictObject({
    id: modelRef,
    score: z.enum(SCORE_NAMES),
  }),
  /** 'zip': the backup this app imports again; 'onnx': one file for deployment (docs/export.md). */
  'models.export': z.strictObject({
    id: modelRef,
    dest: path.optional(),
    format: z.enum(EXPORT_FORMATS).optional(),
  }),
  /** "Import a backbone…": a TF.js folder, checked and registered under the data home. */
  'backbones.import': z.strictObject({ path, output: name.optional() }),
  'backbones.list': z.strictObject({}),
  /** Browser upload: a new folder under the data home, appended to in chunks, then imported. */
  /**
   * `bytes`: the upload's total size, checked once against the upload limit and the data home's
   * free disk before anything is written; chunks may not then outgrow it.
   */
  'uploads.begin': z.strictObject({ name, bytes: z.number().int().min(0) }),
  'uploads.chunk': z.strictObject({
    uploadId: id,
    path: pathOf('upload-entry'),
    offset: z.number().int().min(0),
    base64: z.string().max(8 * 1024 * 1024),
  }),
  'uploads.finish': z.strictObject({ uploadId: id }),
  'models.import': z
    .strictObject({ path: path.optional(), file: droppedFile.optional() })
    .refine((a) => !!a.path !== !!a.file, { message: 'give either path or file', path: ['path'] }),
  evaluate: evaluateArgs,
  predict: predictArgs,
  'predictions.csv': z.strictObject({ rows: z.array(predictionRow).max(100_000) }),
  'predictions.copy': z.strictObject({ rows: z.array(predictionRow).max(100_000), dest: path }),
  'settings.get': z.strictObject({}),
  'settings.set': settingsSchema.partial().strict(),
} as const;

export type OperationName = keyof typeof operations;
export type OperationArgs<O extends OperationName> = z.input<(typeof operations)[O]>;
/** An operation's arguments after its schema has parsed them (defaults filled in). */
export type ParsedArgs<O extends OperationName> = z.output<(typeof operations)[O]>;
export const operationNames = Object.keys(operations) as OperationName[];

// ---------------------------------------------------------------------------------------------
// Results

export interface JobStarted {
  jobId: string;
}

export type JobKind = 'import' | 'train' | 'evaluate' | 'predict' | 'compare';

/**
 * A job's progress: an import's counts, a training event, a backbone's download/embedding
 * (transfer learning, before training), or images done of total (evaluate, predict).
 */
export type JobProgress =
  ImportProgress | TrainEvent | TransferProgress | CompareProgress | { done: number; total: number };

/** A comparison's progress: training steps over all methods (`done`/`total`), the method at work. */
export interface CompareProgress {
  done: number;
  total: number;
  method: Method;
  /** 0-based position of `method` in the run, of `methods`. */
  index: number;
  methods: number;
  stage: 'train' | 'measure';
  epoch?: number;
}

export interface JobInfo {
  jobId: string;
  kind: JobKind;
  state: 'running' | 'done' | 'failed' | 'cancelled';
  startedAt: string;
  /** The latest progress event (or the failure), so a reopened window can show the job. */
  last?: JobProgress | { error: ServiceErrorShape };
  /** For training: the epoch history so far, so curves survive a window reload. */
  history?: EpochMetrics[];
  title: string;
}

export interface SystemInfo {
  app: string;
  versions: Record<string, string>;
  backend: { name: string; device: string } | null;
  backends: { name: string; available: boolean; reason?: string }[];
  dataHome: string;
  platform: string;
}

export interface ScanSummary {
  root: string;
  classes: Record<string, number>;
  givenSplits: boolean;
  images: number;
  skipped: { file: string; reason: string }[];
}

/** A dataset as the data room records it, with the last import's report when there is one. */
export interface DatasetSummary extends CachedDataset {
  report?: ImportReport;
}

/** A model as lists show it: the facts every model states (common/engine.ts ModelFacts) and these. */
export interface ModelSummary extends ModelFacts {
  /** The folder the model was trained on (Evaluate preselects it when it is imported here). */
  datasetRoot?: string;
  history?: EpochMetrics[];
  backbone?: { name: string; sha256: string } | null;
  ood?: { score: string; threshold: number; tpr: number; thresholds?: Record<string, number> };
  epoch?: number;
}

/** The engine's evaluation report (common/engine.ts) for one model and split. */
export interface EvaluateResult extends EvaluationReport {
  model: string;
  split: string;
  /** Files of the dataset and OOD folders left out of the measurement, each with why. */
  skipped?: wire.SkippedFile[];
  /** Classes of the dataset the model does not know: their images (in the split) are not measured. */
  unknownClasses?: { name: string; images: number }[];
}

/** The columns of a comparison row, in table order (CLI table, JSON rows, the app's CSV). */
export const compareColumns = [
  'method',
  'accuracy',
  'nll',
  'ece',
  'brier',
  'auroc_flag',
  'auroc_entropy',
  'parameters',
  'train_seconds',
  'predict_images_per_s',
] as const;

export interface CompareResult {
  /** The dataset folder, and the split the rows are measured on (`test`, else `val` when none). */
  dataset: string;
  split: 'test' | 'val';
  n: number;
  /** OOD images measured; null without an OOD folder. */
  n_ood: number | null;
  seed?: number;
  backend?: { name: string; device: string };
  /** The folder that holds one model folder per method. */
  folder: string;
  rows: CompareRow[];
  /** Files of the dataset and OOD folders left out of the comparison, each with why. */
  skipped?: wire.SkippedFile[];
}

export interface Results {
  'system.info': SystemInfo;
  'datasets.scan': ScanSummary;
  'datasets.import': JobStarted;
  'datasets.list': DatasetSummary[];
  'datasets.remove': { removed: string };
  'datasets.files': { total: number; files: { file: string; className: string; split: string }[] };
  'datasets.thumbnail': { mime: string; base64: string };
  'train.start': JobStarted;
  'train.status': JobInfo[];
  'compare.start': JobStarted;
  'jobs.cancel': { cancelled: boolean };
  'jobs.list': JobInfo[];
  'models.list': ModelSummary[];
  'models.get': ModelSummary;
  'models.rename': ModelSummary;
  'models.remove': { removed: string };
  'models.setFlag': ModelSummary;
  /** `metadata`: the ONNX file's metadata_props (classes, preprocessing, flag…), format 'onnx' only. */
  'models.export': { path?: string; fileName: string; base64?: string; metadata?: Record<string, string> };
  'backbones.import': wire.BackboneSummary;
  'backbones.list': wire.BackboneSummary[];
  'uploads.begin': wire.UploadStarted;
  'uploads.chunk': wire.UploadChunkDone;
  'uploads.finish': wire.UploadFinished;
  'models.import': ModelSummary;
  evaluate: JobStarted;
  predict: JobStarted;
  'predictions.csv': { csv: string };
  'predictions.copy': {
    dest: string;
    copied: number;
    folders: Record<string, number>;
    skipped?: { file: string; reason: string }[];
  };
  'settings.get': Settings;
  'settings.set': Settings;
}

/** One handler per operation: what the service (and the renderer's fake) implement. */
export type OperationHandlers = { [O in OperationName]: (args: ParsedArgs<O>) => Promise<Results[O]> };

/** What each job's `job.done` event carries. */
export interface JobResults {
  import: DatasetSummary;
  train: ModelSummary;
  evaluate: EvaluateResult;
  /** `skipped`: files of a folder given that are not images (named, never read). */
  predict: { count: number; errors: number; flagged: number; skipped?: wire.SkippedFile[] };
  compare: CompareResult;
}

// ---------------------------------------------------------------------------------------------
// Events

export type ServiceEvent =
  | { type: 'job.started'; job: JobInfo }
  | {
      type: 'job.progress';
      jobId: string;
      kind: JobKind;
      progress: JobProgress;
    }
  | { type: 'job.item'; jobId: string; kind: 'predict'; item: PredictionRow }
  | { type: 'job.done'; jobId: string; kind: JobKind; result: JobResults[JobKind] }
  | { type: 'job.failed'; jobId: string; kind: JobKind; error: ServiceErrorShape }
  | { type: 'job.cancelled'; jobId: string; kind: JobKind }
  | { type: 'engine.restarted'; reason: string };

// ---------------------------------------------------------------------------------------------
// The transport-independent shape every transport carries

export interface Request {
  id: number;
  op: string;
  args: unknown;
}
export type Response =
  { id: number; ok: true; result: unknown } | { id: number; ok: false; error: ServiceErrorShape };

/** What a transport talks to (the service itself, or a proxy to it in another process). */
export interface ServiceHandler {
  call(op: string, args: unknown): Promise<unknown>;
  subscribe(listener: (e: ServiceEvent) => void): () => void;
}

/** Every string field of an operation's arguments with what it names on disk, if anything. */
export function schemaStringFields(op: OperationName): StringField[] {
  return stringFieldsOf(operations[op]);
}

/** The strings of a call's arguments that name something on disk, with their kind (any order). */
export function namedPaths(op: string, args: unknown): { field: string; value: string; kind: PathKind }[] {
  return Object.prototype.hasOwnProperty.call(operations, op)
    ? pathsIn(operations[op as OperationName], args)
    : [];
}

/** Validate arguments against the operation's schema; throw a typed error naming the field. */
export function parseArgs<O extends OperationName>(
  op: string,
  args: unknown,
): { op: O; args: ParsedArgs<O> } {
  if (!Object.prototype.hasOwnProperty.call(operations, op)) {
    throw new ServiceError('unknown-operation', `Unknown operation "${String(op).slice(0, 100)}".`);
  }
  const schema = operations[op as O];
  const parsed = schema.safeParse(args ?? {});
  if (!parsed.success) {
    const { field, line } = describeIssue(op, parsed.error.issues[0]!, args ?? {});
    throw new ServiceError('bad-request', line, field);
  }
  return { op: op as O, args: parsed.data as ParsedArgs<O> };
}
