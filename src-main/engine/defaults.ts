/**
 * Defaults: the reference recipe (spec §4) scaled to a desktop, and presets.
 */
import { DEFAULT_MEMBERS, DEFAULT_TRAIN_SEED } from '../common/index.js';
import { DEFAULT_BACKBONE } from './backbones/catalog.js';
import {
  SINGLE_NETWORK_METHODS,
  type Architecture,
  type Method,
  type ModelConfig,
  type TrainConfig,
} from './types.js';

/** σ0 = sqrt(p/(1−p)) with dropout_rate p = 1e-3 (spec §2) ≈ 0.0316. */
export const INIT_STDDEV = Math.sqrt(1e-3 / (1 - 1e-3));

export type Preset = 'quick' | 'balanced' | 'best';

export interface DatasetShape {
  size: number;
  channels: 1 | 3;
  count: number;
  numClasses: number;
  /** True when a GPU backend (webgpu/tensorflow) is in use. */
  gpu?: boolean;
}

export const presets: Record<
  Preset,
  { description: string; arch: (d: DatasetShape) => Architecture; epochs: (d: DatasetShape) => number }
> = {
  quick: {
    description: 'A small rank-1 CNN for a few epochs: minutes on a CPU.',
    arch: (d) => (d.size < 16 ? 'mlp' : 'cnn'),
    epochs: () => 5,
  },
  balanced: {
    description: 'The default: a rank-1 CNN on CPU, rank-1 ResNet-20 on a GPU.',
    arch: (d) => (d.size < 16 ? 'mlp' : d.gpu ? 'resnet20' : 'cnn'),
    epochs: (d) => (d.gpu ? 30 : d.count > 20_000 ? 10 : 15),
  },
  best: {
    description: 'Rank-1 ResNet-20 (WRN-28-10 on a GPU) for longer: the paper’s recipe, slower.',
    arch: (d) => (d.size < 16 ? 'mlp' : d.gpu && d.size <= 64 ? 'wrn-28-10' : 'resnet20'),
    epochs: (d) => (d.gpu ? 100 : 40),
  },
};

/** P(+1) of the paper's random-sign location init (spec §2, CIFAR). */
export const PAPER_RANDOM_SIGN_INIT = 0.5;
/**
 * Location init for the short desktop schedules (quick, balanced): Normal(1, 0.1), the spec's
 * `random_sign_init ≤ 0` form. With ±1 signs the members pull the shared W in conflicting
 * directions until the KL has flipped the signs to +1, which the paper's 250-epoch schedule
 * affords; in 5–15 epochs on a few thousand images the model ends under-fitted and badly
 * under-confident (MNIST, 8 epochs: ECE 0.24 against 0.03; see docs/benchmarks.md).
 * The `best` preset and BatchEnsemble keep the paper's 0.5. A wider N(1, 0.5) makes the members
 * disagree more (mean MI ×20) but fits worse in 8 epochs and did not separate OOD images better
 * (issue 16, docs/benchmarks.md "The rank-1 recipe at desktop budgets").
 */
export const SHORT_SCHEDULE_SIGN_INIT = -0.1;

/**
 * How the members see a step in the short desktop schedules (quick, balanced): each member its own
 * B images from its own shuffle, the edward2 docstring's alternative to the reference scripts'
 * tiling (spec §1 "How members see the batch"). For the same steps and compute the shared weights
 * see K·B different images a step instead of B images K times, and the members' factors follow
 * different paths. At 8 epochs this fitted better and gave lower NLL than tiling, on MNIST and a
 * CIFAR-10 split, and a more informative epistemic split (docs/benchmarks.md, "The rank-1 recipe
 * at desktop budgets"). The `best` preset keeps the paper's tiling, and so does a head on a frozen
 * backbone: fixed features are fitted in a few epochs, and K·B images a step over-fit them
 * (tiled heads had the lower NLL in 5 of 6 seeds, docs/benchmarks.md "The rank-1 head on frozen
 * features").
 */
export const SHORT_SCHEDULE_MEMBER_BATCHES: TrainConfig['memberBatches'] = 'independent';

/** How a model's members see a step (spec §1, "How members see the batch"). */
function memberBatchesFor(model: ModelConfig, preset: Preset): TrainConfig['memberBatches'] {
  // An ensemble's networks train as if each were alone: each from its own shuffle.
  if (model.method === 'ensemble') return 'independent';
  return preset === 'best' || model.arch === 'head' ? 'tiled' : SHORT_SCHEDULE_MEMBER_BATCHES;
}

const SINGLE_NETWORK: ReadonlySet<Method> = new Set(SINGLE_NETWORK_METHODS);

/** Members K a model runs per image: 1 for the single-network methods. */
export function membersOf(c: Pick<ModelConfig, 'method' | 'members'>): number {
  return SINGLE_NETWORK.has(c.method) ? 1 : c.members;
}

/**
 * MC dropout's rate (Gal & Ghahramani 2016): 0.1 on every hidden layer's input, a common choice
 * for CNNs; higher rates cost the short desktop schedules accuracy.
 */
export const MC_DROPOUT_RATE = 0.1;
/** Forward passes per image for MC dropout: as many rows as rank-1's K members give. */
export const MC_DROPOUT_SAMPLES = DEFAULT_MEMBERS;

/** The paper's CIFAR settings (spec §2–4) with an architecture chosen from the dataset. */
export function resolveModelConfig(
  d: DatasetShape,
  overrides: Partial<ModelConfig> = {},
  preset: Preset = 'balanced',
): ModelConfig {
  const method = overrides.method ?? 'rank1';
  const config: ModelConfig = {
    arch: presets[preset].arch(d),
    method,
    members: SINGLE_NETWORK.has(method) ? 1 : DEFAULT_MEMBERS,
    posterior: 'gaussian',
    randomSignInit:
      preset === 'best' || method === 'batchensemble' ? PAPER_RANDOM_SIGN_INIT : SHORT_SCHEDULE_SIGN_INIT,
    priorMean: 1,
    priorStddev: 0.1,
    initStddev: INIT_STDDEV,
    inputShape: [d.size, d.size, d.channels],
    numClasses: d.numClasses,
    ...stripUndefined(overrides),
  };
  if (SINGLE_NETWORK.has(config.method)) config.members = 1;
  if (config.method === 'mcdropout') config.dropoutRate ??= MC_DROPOUT_RATE;
  if (config.arch === 'mlp' && config.hidden === undefined) config.hidden = 128;
  return config;
}

/** SGD steps in one epoch over `count` images: the last partial batch is dropped. */
export function stepsPerEpoch(count: number, batchSize: number): number {
  return Math.max(1, Math.floor(count / Math.max(1, Math.min(batchSize, count))));
}

/**
 * The fewest steps an epoch of the preset's schedule stands for. With B = min(64, N) and the
 * LR scaled with B (spec §4), a folder of N images gets N/128·0.1 of update per epoch, so a
 * Teachable-Machine-size folder (10–60 images a class) got 1–8 steps an epoch and under-fitted
 * (MNIST, 10 a class: 29% held-out). Small folders get more epochs instead: at least this many
 * steps per preset epoch. Training splits of ≥ 10 batches (640 images on a CPU, 1,280 on a GPU)
 * keep the preset's epochs. A CNN from pixels gained (MNIST 10 a class: 29% → 85%, 30 a class:
 * 87% → 92%); a head on frozen features did not (CIFAR 2 × 15 at 64 px: NLL 0.37 → 0.50), so
 * heads keep the preset's epochs (docs/benchmarks.md, "Small folders").
 */
export const MIN_STEPS_PER_PRESET_EPOCH = 10;

/**
 * Epochs for a folder: the preset's, stretched so that a small folder trains at least
 * MIN_STEPS_PER_PRESET_EPOCH steps per preset epoch (at most ×10 the preset's epochs, reached when
 * the whole folder is one batch). The LR decays and KL annealing are fractions of the run, so they
 * stretch with it; the warm-up stays one epoch.
 */
export function epochsFor(d: DatasetShape, arch: Architecture, batchSize: number, preset: Preset): number {
  const epochs = presets[preset].epochs(d);
  // Cached features fit in the preset's epochs; more steps over-fit them.
  if (arch === 'head') return epochs;
  const steps = stepsPerEpoch(d.count, batchSize);
  return Math.max(epochs, Math.ceil((epochs * MIN_STEPS_PER_PRESET_EPOCH) / steps));
}

export function resolveTrainConfig(
  d: DatasetShape,
  model: ModelConfig,
  overrides: Partial<TrainConfig> = {},
  preset: Preset = 'balanced',
): TrainConfig {
  const batchSize = overrides.batchSize ?? Math.max(1, Math.min(d.gpu ? 128 : 64, d.count));
  const optimizer = overrides.optimizer ?? 'sgd';
  return {
    // An explicit --epochs wins (the spread below); an explicit --batch-size still gets the floor.
    epochs: epochsFor(d, model.arch, batchSize, preset),
    batchSize,
    optimizer,
    // Spec §4: base LR 0.1 × B/128 for SGD.
    learningRate: optimizer === 'adam' ? 1e-3 : 0.1 * (batchSize / 128),
    warmupEpochs: 1,
    lrDecayAt: [0.4, 0.8, 0.9],
    lrDecayRatio: 0.2,
    l2: 1e-4,
    factorLrMultiplier: 1,
    klAnnealFraction: 0.8,
    seed: DEFAULT_TRAIN_SEED,
    // Spec §2: Gaussian rows used 1 eval sample, Cauchy rows 4.
    // MC dropout's uncertainty comes only from samples (it has one member).
    evalSamples: model.method === 'mcdropout' ? MC_DROPOUT_SAMPLES : model.posterior === 'cauchy' ? 4 : 1,
    // Issue 16: temperature scaling on the validation split unless turned off (`--no-calibrate`).
    calibrate: true,
    memberBatches: memberBatchesFor(model, preset),
    ...stripUndefined(overrides),
    // Flips would turn digits and letters into other symbols; grey datasets are mostly those.
    // A partial augment (e.g. only `flip: false`) keeps the other default.
    augment: { crop: d.size >= 16, flip: d.channels === 3, ...stripUndefined(overrides.augment ?? {}) },
  };
}

/** Learning rate at fractional epoch e (spec §4, WarmUpPiecewiseConstantSchedule). */
export function learningRateAt(c: TrainConfig, epoch: number): number {
  if (c.warmupEpochs > 0 && epoch < c.warmupEpochs) return (c.learningRate * epoch) / c.warmupEpochs;
  const decays = c.lrDecayAt.filter((f) => epoch >= f * c.epochs).length;
  return c.learningRate * c.lrDecayRatio ** decays;
}

/** kl_scale = min(1, (step+1)/annealSteps) (spec §3). */
export function klScaleAt(c: TrainConfig, step: number, stepsPerEpoch: number): number {
  const anneal = Math.max(1, Math.round(c.klAnnealFraction * c.epochs * stepsPerEpoch));
  return Math.min(1, (step + 1) / anneal);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * No backbone asked for: photos (RGB, stored above 32 px) get the default pretrained backbone
 * (issue 8); small or grey images (digits, icons, CIFAR-size) train from scratch.
 */
export function chooseBackbone(given: string | undefined, channels: 1 | 3, size: number): string {
  if (given !== undefined && given !== 'auto') return given;
  return channels === 3 && size > 32 ? DEFAULT_BACKBONE : 'none';
}
