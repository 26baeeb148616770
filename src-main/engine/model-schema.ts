/**
 * The schema of `model.json`: a model file is untrusted input (issue 13), so every field the app
 * reads is checked here — types, ranges, finite numbers, cross-field agreement — before any
 * tensor is made. One failure gives one line naming the field, e.g.
 * `preprocessing.size 100000 is outside 8..1024`. The limits below are what a model file may hold
 * (the contract's request limits are narrower and live there).
 */
import { z } from 'zod';
import { BUILTIN_BACKBONES, IMPORTED_BACKBONE } from './backbones/catalog.js';
import { SCORE_NAMES } from './ood.js';
import { MAX_FINE_TUNE_BLOCKS, METHODS } from './types.js';

export const MODEL_FORMAT = 'rank1-studio-model';
export const MODEL_FORMAT_VERSION = 1;
/** Every file the app writes into a model folder (nothing else is ever in one of ours). */
export const MODEL_FILES: readonly string[] = ['model.json', 'weights.bin', 'optimizer.bin'];

/** Limits of the model format: generous for real models, small enough that nothing runs away. */
export const MODEL_LIMITS = {
  imageSize: [8, 1024],
  classes: [2, 10_000],
  members: [1, 64],
  samples: [1, 1024],
  epochs: [1, 100_000],
  batchSize: [1, 65_536],
  /** Width of a hidden layer or an embedding. */
  units: [1, 65_536],
  /** Values of a backbone's output: an embedding, or a fine-tuned model's cut map (h·w·c). */
  embedding: [1, 2 ** 22],
  /** Fine-tuned blocks (ModelConfig.fineTune): side of the cut map, kernel side, stride, layers per block, parameters in all. */
  fineTuneSide: [1, 4096],
  kernelSize: [1, 15],
  strides: [1, 4],
  blockLayers: 64,
  fineTuneParams: 2 ** 24,
  /** Tensors in a weights manifest, dimensions per tensor, size of one dimension. */
  tensors: 100_000,
  rank: 8,
  dim: 2 ** 28,
  /** Largest weights file (a WRN-28-10 is ~150 MB): 2 GB. */
  weightBytes: 2 * 1024 ** 3,
  /** Largest model.json read at all. */
  metaBytes: 64 * 1024 ** 2,
  /** Names (classes, ids) and paths (held-out files) in characters; list lengths. */
  name: 200,
  path: 4096,
  files: 2_000_000,
  history: 100_000,
} as const;

type Range = readonly [number, number];

/** A number that must be finite (JSON's 1e999 parses to Infinity), whole if `int`, within a range. */
function num(range?: Range, int = false) {
  const [lo, hi] = range ?? [-Number.MAX_VALUE, Number.MAX_VALUE];
  return z.custom<number>(
    (v) => typeof v === 'number' && Number.isFinite(v) && (!int || Number.isInteger(v)) && v >= lo && v <= hi,
    {
      error: (iss) => {
        const v = iss.input;
        if (typeof v !== 'number') return `is ${describe(v)}, expected a number`;
        if (!Number.isFinite(v)) return `is ${v}, expected a finite number`;
        if (int && !Number.isInteger(v)) return `${v} is not a whole number`;
        return `${v} is outside ${lo}..${hi}`;
      },
    },
  );
}
const int = (range?: Range) => num(range, true);
const positive = () => num([Number.MIN_VALUE, Number.MAX_VALUE]);
const nonNegative = () => num([0, Number.MAX_VALUE]);
const fraction = () => num([0, 1]);
/** Metrics written with JSON.stringify turn NaN ("not measured") into null. */
const measured = () => num().nullable();

function describe(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return `the text ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `a ${typeof v}`;
}

const text = (max: number) => z.string().max(max);
const name = () => z.string().min(1).max(MODEL_LIMITS.name);
const list = <T extends z.ZodType>(item: T, max: number) => z.array(item).max(max);
const hex64 = () => z.string().regex(/^[0-9a-f]{64}$/, 'is not a SHA-256 (64 hex digits)');

const weightSpec = z.strictObject({
  name: text(MODEL_LIMITS.path),
  shape: list(int([0, MODEL_LIMITS.dim]), MODEL_LIMITS.rank),
  dtype: z.literal('float32'),
});
const weightSpecs = list(weightSpec, MODEL_LIMITS.tensors);

const scoreName = z.enum(SCORE_NAMES);
const builtinNames = BUILTIN_BACKBONES.map((b) => b.name);

/** A backbone layer's name (the cut, a fine-tuned layer): Keras's characters only, never a path. */
const layerName = () =>
  z.string().regex(/^[A-Za-z0-9_.-]{1,200}$/, 'is not a layer name (1–200 letters, digits, _ . -)');
const kernel = () => int(MODEL_LIMITS.kernelSize);
const stride = () => int(MODEL_LIMITS.strides);
const fineTuneLayer = z.discriminatedUnion('op', [
  z.strictObject({
    op: z.literal('conv'),
    name: layerName(),
    kernelSize: kernel(),
    strides: stride(),
    filters: int(MODEL_LIMITS.units),
  }),
  z.strictObject({ op: z.literal('depthwise'), name: layerName(), kernelSize: kernel(), strides: stride() }),
  z.strictObject({ op: z.literal('bn'), name: layerName(), epsilon: num([1e-12, 1]) }),
  z.strictObject({ op: z.literal('relu') }),
  z.strictObject({ op: z.literal('relu6') }),
  z.strictObject({ op: z.literal('add') }),
]);
const side = () => int(MODEL_LIMITS.fineTuneSide);
const fineTune = z
  .strictObject({
    blocks: int([1, MAX_FINE_TUNE_BLOCKS]),
    cut: layerName(),
    inputShape: z.tuple([side(), side(), int(MODEL_LIMITS.units)]),
    layers: list(list(fineTuneLayer, MODEL_LIMITS.blockLayers).min(1), MAX_FINE_TUNE_BLOCKS).min(1),
  })
  .superRefine((f, ctx) => {
    const problem = fineTuneProblem(f);
    if (problem) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
  });

type FineTuneSpec = z.infer<typeof fineTune>;

/**
 * What would make the blocks unbuildable: a block count that disagrees with the list, a residual
 * Add whose shapes differ from the block's input, or more parameters than a model file may make
 * the app allocate (the variables exist before weights.bin is matched against them).
 */
function fineTuneProblem(f: FineTuneSpec): { path: (string | number)[]; message: string } | undefined {
  if (f.layers.length !== f.blocks)
    return { path: ['layers'], message: `has ${f.layers.length} blocks, "blocks" says ${f.blocks}` };
  let c = f.inputShape[2];
  let params = 0;
  for (const [b, block] of f.layers.entries()) {
    const input = c;
    let strided = false;
    for (const [i, l] of block.entries()) {
      if (l.op === 'conv') {
        params += l.kernelSize * l.kernelSize * c * l.filters + c + l.filters;
        c = l.filters;
      } else if (l.op === 'depthwise') params += l.kernelSize * l.kernelSize * c + 2 * c;
      else if (l.op === 'bn') params += 4 * c;
      if ((l.op === 'conv' || l.op === 'depthwise') && l.strides > 1) strided = true;
      if (l.op === 'add' && (c !== input || strided))
        return { path: ['layers', b, i], message: 'adds the block input to a value of another shape' };
      if (params > MODEL_LIMITS.fineTuneParams)
        return {
          path: ['layers', b, i],
          message: `makes the blocks larger than ${MODEL_LIMITS.fineTuneParams} values`,
        };
    }
  }
  return undefined;
}

const config = z.looseObject({
  arch: z.enum(['mlp', 'cnn', 'resnet20', 'wrn-28-10', 'head']),
  method: z.enum(METHODS),
  members: int(MODEL_LIMITS.members),
  posterior: z.enum(['gaussian', 'cauchy']),
  randomSignInit: num(),
  priorMean: num(),
  priorStddev: positive(),
  initStddev: positive(),
  inputShape: z.tuple([int([1, MODEL_LIMITS.dim]), int([1, MODEL_LIMITS.dim]), int([1, MODEL_LIMITS.dim])]),
  numClasses: int(MODEL_LIMITS.classes),
  hidden: int(MODEL_LIMITS.units).optional(),
  embeddingSize: int(MODEL_LIMITS.embedding).optional(),
  fineTune: fineTune.optional(),
});

const train = z.looseObject({
  epochs: int(MODEL_LIMITS.epochs),
  batchSize: int(MODEL_LIMITS.batchSize),
  optimizer: z.enum(['sgd', 'adam']),
  learningRate: nonNegative(),
  warmupEpochs: nonNegative(),
  lrDecayAt: list(num(), 1000),
  lrDecayRatio: nonNegative(),
  l2: nonNegative(),
  factorLrMultiplier: nonNegative(),
  klAnnealFraction: nonNegative(),
  memberBatches: z.enum(['tiled', 'independent']).optional(),
  objective: z.enum(['average', 'mixture']).optional(),
  augment: z.looseObject({ crop: z.boolean(), flip: z.boolean() }),
  seed: int(),
  evalSamples: int(MODEL_LIMITS.samples),
});

const channel = int([0, 255]);
const preprocessing = z.looseObject({
  size: int(MODEL_LIMITS.imageSize),
  channels: z.union([z.literal(1), z.literal(3)], {
    error: (iss) =>
      `is ${describe(iss.input)}${typeof iss.input === 'number' ? ` (${iss.input})` : ''}, expected 1 or 3`,
  }),
  fit: z.enum(['cover', 'contain']),
  background: z.looseObject({ r: channel, g: channel, b: channel }),
});

const datasetMetrics = z.looseObject({
  n: int([0, Number.MAX_SAFE_INTEGER]).optional(),
  accuracy: measured().optional(),
  nll: measured().optional(),
  ece: measured().optional(),
  brier: measured().optional(),
  perClassAccuracy: list(measured(), MODEL_LIMITS.classes[1]).optional(),
  confusion: list(
    list(int([0, Number.MAX_SAFE_INTEGER]), MODEL_LIMITS.classes[1]),
    MODEL_LIMITS.classes[1],
  ).optional(),
  reliability: list(z.record(z.string(), measured()), 1000).optional(),
});

const epochMetrics = z.looseObject({ epoch: int([0, MODEL_LIMITS.epochs[1]]) }).catchall(measured());

const ood = z.looseObject({
  score: scoreName,
  threshold: num(),
  tpr: fraction(),
  thresholds: z.partialRecord(scoreName, num()).optional(),
  split: z.literal('val').optional(),
  count: int([1, MODEL_LIMITS.files]).optional(),
});

const backbone = z
  .looseObject({
    name: z.string().refine((n) => builtinNames.includes(n) || IMPORTED_BACKBONE.test(n), {
      error: (iss) =>
        `${typeof iss.input === 'string' ? JSON.stringify(iss.input) : describe(iss.input)} is not a known backbone (${builtinNames.join(', ')}, or imported-<12 hex digits>); a model file may not name a path`,
    }),
    sha256: hex64(),
    embeddingSize: int(MODEL_LIMITS.embedding),
  })
  .nullable();

export const modelMetaSchema = z
  .looseObject({
    format: z.string(),
    formatVersion: z.number(),
    id: text(MODEL_LIMITS.name),
    name: text(MODEL_LIMITS.name * 5),
    createdAt: text(100),
    classes: list(name(), MODEL_LIMITS.classes[1]).min(MODEL_LIMITS.classes[0]),
    config,
    train,
    preprocessing,
    normalization: z.looseObject({ mean: list(num(), 3), std: list(positive(), 3) }),
    datasetRoot: text(MODEL_LIMITS.path).optional(),
    heldOut: z
      .looseObject({
        val: list(text(MODEL_LIMITS.path), MODEL_LIMITS.files),
        test: list(text(MODEL_LIMITS.path), MODEL_LIMITS.files),
      })
      .optional(),
    trainSize: int([0, Number.MAX_SAFE_INTEGER]),
    metrics: z.looseObject({ val: datasetMetrics.optional() }).optional(),
    history: list(epochMetrics, MODEL_LIMITS.history),
    backend: z.looseObject({ name: text(100), device: text(1000) }).optional(),
    backbone: backbone.optional(),
    ood: ood.optional(),
    epoch: int([0, MODEL_LIMITS.epochs[1]]),
    optimizerState: weightSpecs.optional(),
    weights: z.strictObject({
      specs: weightSpecs,
      bytes: int([0, MODEL_LIMITS.weightBytes]),
      sha256: hex64(),
    }),
    demo: z.boolean().optional(),
    prediction: z
      .looseObject({
        mode: z.enum(['samples', 'mean']),
        samples: int(MODEL_LIMITS.samples),
        seed: int([0, 2 ** 32]),
      })
      .optional(),
    calibration: z.looseObject({ temperature: num([1e-3, 1e3]) }).optional(),
  })
  .superRefine((m, ctx) => {
    const fail = (path: (string | number)[], message: string) =>
      ctx.addIssue({ code: 'custom', path, message });
    if (m.classes.length !== m.config.numClasses)
      fail(
        ['classes'],
        `has ${m.classes.length} names, the model has ${m.config.numClasses} outputs (config.numClasses)`,
      );
    const { size, channels } = m.preprocessing;
    if (m.config.arch !== 'head') {
      const [h, w, c] = m.config.inputShape;
      if (h !== size || w !== size || c !== channels)
        fail(
          ['config', 'inputShape'],
          `[${h}, ${w}, ${c}] does not match preprocessing (${size}×${size}×${channels})`,
        );
    }
    const ft = m.config.fineTune;
    if (ft) {
      const [h, w, c] = ft.inputShape;
      if (m.config.arch !== 'head' || !m.backbone)
        fail(['config', 'fineTune'], 'is set on a model without a backbone (arch "head")');
      else if (m.config.embeddingSize !== h * w * c)
        fail(['config', 'embeddingSize'], `${m.config.embeddingSize} is not the cut's ${h}×${w}×${c} values`);
    }
    for (const key of ['mean', 'std'] as const) {
      const n = m.normalization[key].length;
      if (n !== channels) fail(['normalization', key], `has ${n} values for ${channels} channel(s)`);
    }
    if (m.epoch > m.train.epochs) fail(['epoch'], `${m.epoch} is past train.epochs (${m.train.epochs})`);
    checkBytes(m.weights.specs, m.weights.bytes, ['weights', 'bytes'], fail);
  });

/** Byte length implied by a manifest; the recorded length must match, and nothing may overflow. */
function checkBytes(
  specs: { shape: number[] }[],
  bytes: number,
  path: (string | number)[],
  fail: (path: (string | number)[], message: string) => void,
): void {
  let total = 0;
  for (const [i, s] of specs.entries()) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    total += n * 4;
    if (total > MODEL_LIMITS.weightBytes) {
      fail(
        ['weights', 'specs', i, 'shape'],
        `makes the weights larger than ${MODEL_LIMITS.weightBytes} bytes`,
      );
      return;
    }
  }
  if (total !== bytes)
    fail(path, `${bytes} does not match the tensors listed in weights.specs (${total} bytes)`);
}

/** Bytes of float32 data a manifest describes (after the schema has bounded it). */
export function specBytes(specs: { shape: number[] }[]): number {
  return specs.reduce((sum, s) => sum + 4 * s.shape.reduce((a, b) => a * b, 1), 0);
}

/** The first problem as one line: `preprocessing.size 100000 is outside 8..1024`. */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0]!;
  const where = issue.path.map(String).join('.') || '(top level)';
  let message = issue.message;
  // zod's own wording for the generic cases, made to read after the field's name.
  if (issue.code === 'invalid_type') message = `is ${describe(valueAt(issue))}, expected ${issue.expected}`;
  else if (issue.code === 'too_big' && issue.origin === 'array')
    message = `has more than ${issue.maximum} entries`;
  else if (issue.code === 'too_small' && issue.origin === 'array')
    message = `has fewer than ${issue.minimum} entries`;
  else if (issue.code === 'too_big' && issue.origin === 'string')
    message = `is longer than ${issue.maximum} characters`;
  else if (issue.code === 'too_small' && issue.origin === 'string') message = 'is empty';
  else if (issue.code === 'invalid_value')
    message = `is not one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  else if (issue.code === 'unrecognized_keys') message = `has unknown field(s) ${issue.keys.join(', ')}`;
  return `${where} ${message}`;
}

function valueAt(issue: z.core.$ZodIssue): unknown {
  return 'input' in issue ? issue.input : undefined;
}
