/**
 * The engine's wire types (plain data, JSON-safe): model and training configuration, training
 * events, metrics, predictions, backbone progress. Read by the engine, the store and the contract.
 */

import type { Preprocessing } from './data.js';

/** Set by `rank1 --verbose`: native diagnostics (Dawn, drivers) are printed instead of only kept. */
export const VERBOSE_ENV = 'RANK1_VERBOSE';

export type Architecture = 'mlp' | 'cnn' | 'resnet20' | 'wrn-28-10' | 'head';
/**
 * Every training method, in one place (the contract and the CLI import it): the rank-1 BNN and
 * the paper's baselines built from the same layers (spec §1; Dusenberry et al. 2020, Table 1):
 * - rank1: K members share W; per-member Gaussian/Cauchy rank-1 factors with a KL (spec §1–3).
 * - deterministic: one network, no factors.
 * - batchensemble: K members share W; per-member point-estimate factors, no KL.
 * - ensemble: K independently initialised networks (own kernels, biases and BatchNorm).
 * - mcdropout: one network with dropout kept on at prediction (Gal & Ghahramani 2016).
 */
export const METHODS = ['rank1', 'deterministic', 'batchensemble', 'ensemble', 'mcdropout'] as const;
export type Method = (typeof METHODS)[number];
/** Methods that train one network (K = 1): their members are samples, if any, not copies. */
export const SINGLE_NETWORK_METHODS: readonly Method[] = ['deterministic', 'mcdropout'];
/**
 * The OOD scores the engine computes (engine/ood.ts, spec §5), in its order; higher = more
 * unusual. The one list: the contract, the model schema, `rank1 flag` and the renderer import it.
 */
export const SCORE_NAMES = [
  'entropy',
  'mutual_information',
  'max_prob',
  'energy',
  'mahalanobis',
  'knn',
] as const;
export type ScoreName = (typeof SCORE_NAMES)[number];
/**
 * Each OOD score in words, defined once for the CLI and the app: `label` names the score in
 * tables and menus; `quantity` is what the flag's rule compares. `complement`: the engine stores
 * 1 − quantity (max_prob = 1 − max p̄, so that higher = more unusual, spec §5), so the rule reads
 * "quantity < 1 − threshold" — never "max_prob > 0.667", which reads the wrong way round.
 */
export const SCORE_WORDS: Readonly<
  Record<ScoreName, { label: string; quantity: string; complement?: true }>
> = {
  entropy: { label: 'entropy (total uncertainty)', quantity: 'entropy' },
  mutual_information: { label: 'mutual information (epistemic)', quantity: 'mutual information' },
  max_prob: { label: 'low top probability', quantity: 'top probability', complement: true },
  energy: { label: 'energy (weak evidence for every class)', quantity: 'energy' },
  mahalanobis: {
    label: 'distance to the training images (Mahalanobis)',
    quantity: 'Mahalanobis distance',
  },
  knn: { label: 'distance to the nearest training images (k-NN)', quantity: 'k-NN distance' },
};

/** What each method is called for people (the app's method picker). */
export const METHOD_LABELS: Record<Method, string> = {
  rank1: 'Rank-1 BNN',
  batchensemble: 'BatchEnsemble',
  ensemble: 'Deep ensemble',
  mcdropout: 'MC dropout',
  deterministic: 'Deterministic',
};
export type Posterior = 'gaussian' | 'cauchy';
export type BackendName = 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

/** Everything needed to rebuild a model's graph; stored in the model's metadata. */
export interface ModelConfig {
  arch: Architecture;
  method: Method;
  /** K, the number of mixture components (1 for deterministic). */
  members: number;
  posterior: Posterior;
  /** P(+1) of the random-sign location init (spec §2; 0.5 CIFAR). */
  randomSignInit: number;
  priorMean: number;
  priorStddev: number;
  /** Initial posterior stddev σ0 (spec §2: sqrt(p/(1-p)) with p = 1e-3). */
  initStddev: number;
  inputShape: [number, number, number]; // H, W, C
  numClasses: number;
  /** Hidden width for mlp / head; width multiplier for wrn. */
  hidden?: number;
  /** Embedding size for `head` models (the backbone's output). */
  embeddingSize?: number;
  /** mcdropout: the dropout rate on each layer's input, in training and at prediction. */
  dropoutRate?: number;
  /**
   * `head` models that fine-tune the backbone's last blocks (issue 16 item 6): the cached input
   * is the backbone cut before them (a spatial map, `embeddingSize` = h·w·c values), the blocks
   * are rank-1 layers of the model. Absent: the frozen backbone's pooled embedding.
   */
  fineTune?: FineTuneConfig;
}

/** Backbone blocks fine-tuned per model at most (`--fine-tune N`, 0 = frozen). */
export const MAX_FINE_TUNE_BLOCKS = 4;

/**
 * One layer of a fine-tuned backbone block, as read from the backbone (engine/backbones/tail.ts):
 * a 'same'-padded convolution without bias (MobileNet v1/v2's), its BatchNorm, relu/relu6, and
 * v2's residual `add` (+ the block's input).
 */
export type FineTuneLayer =
  | { op: 'conv'; name: string; kernelSize: number; strides: number; filters: number }
  | { op: 'depthwise'; name: string; kernelSize: number; strides: number }
  | { op: 'bn'; name: string; epsilon: number }
  | { op: 'relu' }
  | { op: 'relu6' }
  | { op: 'add' };

export interface FineTuneConfig {
  /** N, the backbone blocks trained (1..MAX_FINE_TUNE_BLOCKS). */
  blocks: number;
  /** The backbone layer whose output the blocks read (the cut). */
  cut: string;
  /** [h, w, c] of that output. */
  inputShape: [number, number, number];
  /** The N blocks in order, each its layers in order. */
  layers: FineTuneLayer[][];
}

/**
 * How prediction fixes the rank-1 factors (engine/models/prediction-factors.ts): `samples` = S
 * seeded draws per member, `mean` = the posterior locations. Stored in the model's metadata.
 */
export type FactorMode = 'samples' | 'mean';
export interface PredictionPlan {
  mode: FactorMode;
  /** S, draws per member (1 for `mean`). */
  samples: number;
  /** Seed of the draws; old models without a plan use their training seed. */
  seed: number;
}

/** Post-hoc calibration stored with the model (engine/calibration.ts); absent = T = 1. */
export interface Calibration {
  temperature: number;
}

export interface TrainConfig {
  epochs: number;
  /** Images per member per step (tiled K times, or each member its own: `memberBatches`). */
  batchSize: number;
  optimizer: 'sgd' | 'adam';
  /** Base learning rate; default 0.1·B/128 for SGD, 1e-3 for Adam. */
  learningRate: number;
  warmupEpochs: number;
  /** Fractions of training at which the LR is multiplied by `lrDecayRatio`. */
  lrDecayAt: number[];
  lrDecayRatio: number;
  l2: number;
  /** Spec §3 `fast_weight_lr_multiplier`: scales the learning rate of the rank-1 factors. */
  factorLrMultiplier: number;
  /** KL ramps linearly to 1 over this fraction of the total steps. */
  klAnnealFraction: number;
  /**
   * The KL is divided by max(N_train, klReferenceSize) (spec §3 divides by N_train). Absent in
   * models trained before it existed: N_train alone.
   */
  klReferenceSize?: number;
  /**
   * How the K members see a step: `tiled` (spec §1: the same B images tiled K times) or
   * `independent` (the edward2 docstring's alternative: each member its own B images, from its own
   * shuffle of the training set). Absent: tiled.
   */
  memberBatches?: 'tiled' | 'independent';
  /**
   * Training NLL: `average` of the members' NLLs (spec §3, the reference code) or the `mixture`'s
   * log-likelihood (the objective the paper discusses; members may specialise). Absent: average.
   */
  objective?: 'average' | 'mixture';
  augment: { crop: boolean; flip: boolean };
  seed: number;
  /** Eval samples S for validation. */
  evalSamples: number;
  /** Fit a temperature on the validation split at the end of training (issue 16); default true. */
  calibrate?: boolean;
}

export interface EpochMetrics {
  epoch: number;
  trainLoss: number;
  trainNll: number;
  trainAccuracy: number;
  kl: number;
  lr: number;
  valAccuracy: number;
  valNll: number;
  valEce: number;
  valLoss: number;
  seconds: number;
  imagesPerSecond: number;
}

export type TrainEvent =
  | { type: 'start'; totalSteps: number; stepsPerEpoch: number; backend: string; device: string }
  | {
      type: 'step';
      epoch: number;
      step: number;
      totalSteps: number;
      loss: number;
      kl: number;
      lr: number;
      imagesPerSecond: number;
      etaSeconds: number;
    }
  | { type: 'epoch'; metrics: EpochMetrics }
  | { type: 'checkpoint'; epoch: number; dir: string }
  | { type: 'done'; modelDir: string }
  | { type: 'cancelled'; epoch: number };

/** Per-image uncertainty (spec §5; entropy split = aleatoric + epistemic). */
export interface ImagePrediction {
  label: string;
  labelIndex: number;
  confidence: number;
  probabilities: number[];
  /** H[p̄], nats. */
  entropy: number;
  /** E_k[H[p_k]], aleatoric, nats. */
  expectedEntropy: number;
  /** entropy − expectedEntropy, epistemic, nats. */
  mutualInformation: number;
  ood: boolean;
}

export interface DatasetMetrics {
  n: number;
  accuracy: number;
  nll: number;
  ece: number;
  brier: number;
  perClassAccuracy: number[];
  confusion: number[][];
  reliability: { lower: number; upper: number; count: number; accuracy: number; confidence: number }[];
  /** The model's calibration temperature the numbers above use (1 = none). */
  temperature?: number;
  /** The same mixture at T = 1, for comparison (before calibration). */
  nll_uncalibrated?: number;
  ece_uncalibrated?: number;
  reliability_uncalibrated?: DatasetMetrics['reliability'];
}

export interface OodMetrics {
  n_ood: number;
  auroc_entropy: number;
  auroc_mi: number;
  fpr95_entropy: number;
  fpr95_mi: number;
  ood_flag_rate: number;
  in_flag_rate: number;
}

/**
 * What evaluating a model on a folder gives (the engine's report; the contract's `EvaluateResult`
 * adds the model and split). `ood`'s `auroc_flag`/`fpr95_flag` are those of the score behind the
 * model's flag; `items` are per-image scores for histograms, risk–coverage and the review queue.
 */
export interface EvaluationReport {
  metrics: DatasetMetrics;
  ood?: OodMetrics & {
    auroc_flag?: number;
    fpr95_flag?: number;
    scores?: Record<string, { auroc: number; fpr95: number }>;
  };
  items: {
    file: string;
    label: number;
    predicted: number;
    confidence: number;
    entropy: number;
    mutualInformation: number;
  }[];
  oodItems?: { file: string; entropy: number; mutualInformation: number; ood: boolean }[];
}

/**
 * One method's row of a comparison (issue 16 item 5: `rank1 compare`, the Compare view), measured
 * on held-out images every method shares.
 */
export interface CompareRow {
  method: Method;
  accuracy: number;
  nll: number;
  ece: number;
  brier: number;
  /** AUROC of the OOD flag's score and of predictive entropy; null without an OOD set. */
  auroc_flag: number | null;
  auroc_entropy: number | null;
  /** Trainable parameters (an ensemble counts all K networks). */
  parameters: number;
  train_seconds: number;
  predict_images_per_s: number;
  /** The reliability diagram's bins on the held-out images. */
  reliability: DatasetMetrics['reliability'];
}

/** A backbone download's progress (transfer learning). */
export interface DownloadProgress {
  /** The backbone being fetched. */
  name: string;
  phase: 'download' | 'verify' | 'done' | 'redownload';
  file?: string;
  filesDone: number;
  filesTotal: number;
  bytes: number;
  /** Why a cached copy is being fetched again (phase 'redownload'). */
  reason?: string;
}

/** A backbone's download, then the embedding of the splits, before training. */
export type TransferProgress =
  | ({ phase: 'download' | 'verify' | 'done' | 'redownload' } & DownloadProgress)
  | { phase: 'embed'; split: 'train' | 'val'; done: number; total: number };

export type ModelStatus = 'complete' | 'incomplete';

export interface ModelAccuracy {
  value: number;
  /** Which images: the held-out validation split recorded at training. */
  split: 'val';
  /** How many images it was measured on. */
  count: number;
}

/**
 * What a model says about itself both on disk (the engine's `ModelMeta`, model.json) and on the
 * wire (the contract's `ModelSummary`): one list of the shared fields, each side adds its own.
 */
export interface ModelFacts {
  id: string;
  name: string;
  createdAt: string;
  classes: string[];
  config: ModelConfig;
  train: TrainConfig;
  preprocessing: Preprocessing;
  metrics?: { val?: Partial<DatasetMetrics> };
  backend?: { name: string; device: string };
  demo?: boolean;
  /** `incomplete`: a cancelled or crashed run's resumable checkpoint at `epoch` of `epochs` (issue 15). */
  status?: ModelStatus;
  /** Epochs the run was asked for (`train.epochs`), beside `epoch` for lists. */
  epochs?: number;
  /** The one accuracy shown for the model, with the images it was measured on. */
  accuracy?: ModelAccuracy;
  /**
   * Why predictions of this model carry a warning (e.g. a checkpoint without an OOD threshold
   * flags nothing); absent when there is none. Prediction results copy it.
   */
  warning?: string;
}
