/**
 * A model on disk is a folder: `model.json` (metadata, format version, weight manifest with a
 * SHA-256 of the weights) and `weights.bin` (TF.js weights format: the tensors' bytes
 * concatenated in manifest order). Written atomically: a temporary sibling folder, fsync, then
 * rename, so a crash mid-save never leaves a half-written model under the final name.
 * Reading treats the files as untrusted input: model.json is checked against its schema
 * (model-schema.ts) and the weights must be finite before anything else uses them.
 * Writing never replaces a folder the app did not write (output-guard.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs, type Stats } from 'node:fs';
import * as nodePath from 'node:path';
import type { Calibration, EpochMetrics, ModelFacts, ModelStatus, PredictionPlan } from './types.js';
import {
  MODEL_FORMAT,
  MODEL_FORMAT_VERSION,
  MODEL_LIMITS,
  describeIssue,
  modelMetaSchema,
  specBytes,
} from './model-schema.js';
import {
  assertWritableModelFolder,
  recoverModelFolder,
  removeOurFolder,
  temporaryName,
  writeFileSynced,
} from './output-guard.js';
import { ownFile, refusal } from './own-file.js';

export { MODEL_FILES, MODEL_FORMAT, MODEL_FORMAT_VERSION, MODEL_LIMITS, specBytes } from './model-schema.js';

/** One entry of the TF.js weights manifest (`tf.io.WeightsManifestEntry`, float32 only). */
export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32';
}

export interface OodFit {
  /** Name of the score behind the flag (see engine/ood). */
  score: string;
  threshold: number;
  /** Fraction of in-distribution validation images kept below the threshold. */
  tpr: number;
  /** The threshold of every available score at the same TPR, so the flag's score can be switched. */
  thresholds?: Record<string, number>;
  /** Which held-out images the thresholds were fitted on, and how many (for the UI to state). */
  split?: 'val';
  count?: number;
}

/** model.json: the facts every model states (common/engine.ts ModelFacts) and the engine's own. */
export interface ModelMeta extends ModelFacts {
  format: typeof MODEL_FORMAT;
  formatVersion: number;
  /** Normalisation applied to uint8 pixels / 255 before the network, per channel. */
  normalization: { mean: number[]; std: number[] };
  datasetRoot?: string;
  /** Files held out for validation/test, so `eval` on the training folder measures held-out data. */
  heldOut?: { val: string[]; test: string[] };
  trainSize: number;
  history: EpochMetrics[];
  backbone?: { name: string; sha256: string; embeddingSize: number } | null;
  ood?: OodFit;
  /** How prediction fixes the rank-1 factors; absent in old folders (then derived from train.seed). */
  prediction?: PredictionPlan;
  /** Temperature of the member softmaxes; absent = 1. */
  calibration?: Calibration;
  /** Epoch reached; a checkpoint with epoch < train.epochs can resume. */
  epoch: number;
  optimizerState?: WeightSpec[];
  weights: { specs: WeightSpec[]; bytes: number; sha256: string };
}

export type { ModelAccuracy, ModelStatus } from './types.js';

/** The fields written and re-derived from the rest of the meta (one home: describeStatus). */
export type DerivedMeta = 'status' | 'epochs' | 'accuracy' | 'warning';

/** A meta as the trainer hands it to writeModelFolder. */
export type ModelMetaDraft = Omit<ModelMeta, 'weights' | 'format' | 'formatVersion' | DerivedMeta>;

/** Status, epochs, accuracy and warning follow from epoch, train.epochs, metrics and ood. */
export function describeStatus(
  meta: Pick<ModelMeta, 'epoch' | 'train' | 'metrics' | 'ood'>,
): Required<Pick<ModelMeta, 'status' | 'epochs'>> & Pick<ModelMeta, 'accuracy' | 'warning'> {
  const epochs = meta.train.epochs;
  const status: ModelStatus = meta.epoch >= epochs ? 'complete' : 'incomplete';
  const val = meta.metrics?.val;
  const accuracy =
    typeof val?.accuracy === 'number' &&
    Number.isFinite(val.accuracy) &&
    typeof val.n === 'number' &&
    val.n > 0
      ? { value: val.accuracy, split: 'val' as const, count: val.n }
      : undefined;
  const warning = meta.ood
    ? undefined
    : status === 'incomplete'
      ? `no OOD threshold yet: this is a checkpoint at epoch ${meta.epoch} of ${epochs}, so nothing is flagged as unlike the training images`
      : 'this model has no OOD threshold (it was trained without validation images), so nothing is flagged as unlike the training images';
  return { status, epochs, ...(accuracy ? { accuracy } : {}), ...(warning ? { warning } : {}) };
}

/** A model folder that cannot be used: one line naming the folder, the file and the field. */
export class ModelFormatError extends Error {
  constructor(
    readonly dir: string,
    /** The problem without the folder, e.g. `model.json: preprocessing.size 100000 is outside 8..1024`. */
    readonly detail: string,
  ) {
    super(`${dir}: ${detail}`);
    this.name = 'ModelFormatError';
  }
}

export interface NamedWeight {
  name: string;
  shape: number[];
  data: Float32Array;
}

function concatWeights(weights: NamedWeight[]): { specs: WeightSpec[]; buffer: Buffer } {
  const specs = weights.map((w) => ({ name: w.name, shape: [...w.shape], dtype: 'float32' as const }));
  const buffer = Buffer.concat(
    weights.map((w) => Buffer.from(w.data.buffer, w.data.byteOffset, w.data.byteLength)),
  );
  return { specs, buffer };
}

/**
 * Write a model folder atomically. `meta.weights` is filled in here. An existing folder at `dir`
 * is replaced only after the new one is complete (rename old aside, rename new in, remove old).
 */
export async function writeModelFolder(
  dir: string,
  meta: ModelMetaDraft & Partial<Pick<ModelMeta, DerivedMeta>>,
  weights: NamedWeight[],
  optimizer: NamedWeight[] = [],
): Promise<ModelMeta> {
  const { specs, buffer } = concatWeights(weights);
  const opt = concatWeights(optimizer);
  // Leftovers of an interrupted earlier write are settled first; then only an absent or empty
  // folder, or a model folder of ours, may be replaced.
  await recoverModelFolder(dir);
  await assertWritableModelFolder(dir);
  const { status: _s, epochs: _e, accuracy: _a, warning: _w, ...rest } = meta;
  const full: ModelMeta = {
    ...rest,
    ...describeStatus(meta),
    format: MODEL_FORMAT,
    formatVersion: MODEL_FORMAT_VERSION,
    optimizerState: optimizer.length ? opt.specs : undefined,
    weights: { specs, bytes: buffer.byteLength, sha256: createHash('sha256').update(buffer).digest('hex') },
  };
  const parent = nodePath.dirname(dir);
  await fs.mkdir(parent, { recursive: true });
  const tag = randomBytes(4).toString('hex');
  const tmp = nodePath.join(parent, temporaryName(nodePath.basename(dir), tag));
  await fs.mkdir(tmp);
  const old = nodePath.join(parent, temporaryName(nodePath.basename(dir), tag, true));
  let hadOld = false;
  try {
    await writeFileSynced(nodePath.join(tmp, 'weights.bin'), buffer);
    if (optimizer.length) await writeFileSynced(nodePath.join(tmp, 'optimizer.bin'), opt.buffer);
    await writeFileSynced(nodePath.join(tmp, 'model.json'), JSON.stringify(full, null, 1));
    hadOld = await fs
      .rename(dir, old)
      .then(() => true)
      .catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return false;
        throw e;
      });
    await fs.rename(tmp, dir);
    // Only our files go; anything else that appeared in the old folder meanwhile is kept there.
    if (hadOld) await removeOurFolder(old).catch(() => undefined);
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true });
    // The new folder did not get in: put the old one back under its name.
    if (hadOld) await fs.rename(old, dir).catch(() => undefined);
    throw e;
  }
  return full;
}

/** Read and check `model.json` only (cheap: for lists). Throws ModelFormatError naming the field. */
export async function readModelMeta(dir: string): Promise<ModelMeta> {
  return checkModelMeta(dir, await readMetaText(dir));
}

/** The text of `dir`/model.json checked (format, version, schema) and its derived fields filled in. */
export function checkModelMeta(dir: string, text: string): ModelMeta {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ModelFormatError(dir, 'model.json is not valid JSON (truncated or edited?)');
  }
  const head = (raw ?? {}) as { format?: unknown; formatVersion?: unknown };
  if (typeof raw !== 'object' || Array.isArray(raw) || head.format !== MODEL_FORMAT)
    throw new ModelFormatError(dir, 'model.json is not a Rank-1 Studio model');
  const v = head.formatVersion;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    throw new ModelFormatError(
      dir,
      `model.json: formatVersion ${JSON.stringify(v) ?? 'missing'} is not a format version (a whole number from 1)`,
    );
  if (v > MODEL_FORMAT_VERSION) {
    throw new ModelFormatError(
      dir,
      `model.json: format version ${v} is newer than this app reads (${MODEL_FORMAT_VERSION}); update Rank-1 Studio`,
    );
  }
  const parsed = modelMetaSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) throw new ModelFormatError(dir, `model.json: ${describeIssue(parsed.error)}`);
  const meta = parsed.data as unknown as ModelMeta;
  return { ...meta, ...describeStatus(meta) };
}

/**
 * The folder's own regular file `name`, checked before it is read (own-file.ts says why); undefined
 * when absent. A link, a pipe or device, or a path out of the folder is refused unread.
 */
export async function ownModelFile(dir: string, name: string): Promise<Stats | undefined> {
  const found = await ownFile(dir, name);
  if (found.kind === 'ok') return found.stats;
  if (found.kind === 'absent') return undefined;
  throw new ModelFormatError(dir, refusal(name, found));
}

async function readMetaText(dir: string, recovered = false): Promise<string> {
  const st = await ownModelFile(dir, 'model.json');
  if (!st) {
    // A crash between writeModelFolder's two renames leaves no folder under the name: settle it once.
    if (recovered) throw new ModelFormatError(dir, 'not a model folder (no model.json)');
    await recoverModelFolder(dir).catch(() => undefined);
    return readMetaText(dir, true);
  }
  if (st.size > MODEL_LIMITS.metaBytes)
    throw new ModelFormatError(
      dir,
      `model.json is ${st.size} bytes; a model's metadata is at most ${MODEL_LIMITS.metaBytes}`,
    );
  try {
    return await fs.readFile(nodePath.join(dir, 'model.json'), 'utf8');
  } catch (e) {
    throw new ModelFormatError(dir, `cannot read model.json (${(e as NodeJS.ErrnoException).code})`);
  }
}

function splitWeights(dir: string, file: string, buffer: Buffer, specs: WeightSpec[]): NamedWeight[] {
  const out: NamedWeight[] = [];
  let offset = 0;
  for (const spec of specs) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const bytes = n * 4;
    if (offset + bytes > buffer.byteLength) throw new ModelFormatError(dir, `${file} is truncated`);
    // Copy into an aligned buffer: the slice may start at any byte offset.
    const data = new Float32Array(n);
    new Uint8Array(data.buffer).set(buffer.subarray(offset, offset + bytes));
    const bad = data.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0)
      throw new ModelFormatError(
        dir,
        `${file}: "${spec.name}" holds ${data[bad]} at index ${bad} (damaged or diverged weights)`,
      );
    out.push({ name: spec.name, shape: spec.shape, data });
    offset += bytes;
  }
  if (offset !== buffer.byteLength)
    throw new ModelFormatError(dir, `${file} has ${buffer.byteLength - offset} unexpected extra bytes`);
  return out;
}

/** Read a whole model folder, verifying the weights' length and SHA-256. */
export async function readModelFolder(
  dir: string,
  opts: { optimizer?: boolean } = {},
): Promise<{ meta: ModelMeta; weights: NamedWeight[]; optimizer: NamedWeight[] }> {
  const meta = await readModelMeta(dir);
  const file = nodePath.join(dir, 'weights.bin');
  // The size first: a damaged manifest must not make us read a file of any length.
  const st = await ownModelFile(dir, 'weights.bin');
  if (!st) throw new ModelFormatError(dir, 'weights.bin is missing');
  const size = st.size;
  if (size !== meta.weights.bytes) {
    throw new ModelFormatError(
      dir,
      `weights.bin has ${size} bytes, expected ${meta.weights.bytes} (truncated?)`,
    );
  }
  const buffer = await fs.readFile(file);
  if (createHash('sha256').update(buffer).digest('hex') !== meta.weights.sha256) {
    throw new ModelFormatError(dir, 'weights.bin does not match its recorded SHA-256 (damaged or tampered)');
  }
  const weights = splitWeights(dir, 'weights.bin', buffer, meta.weights.specs);
  let optimizer: NamedWeight[] = [];
  if (opts.optimizer && meta.optimizerState?.length) {
    if (!(await ownModelFile(dir, 'optimizer.bin')))
      throw new ModelFormatError(dir, 'optimizer.bin is missing; cannot resume');
    const ob = await fs.readFile(nodePath.join(dir, 'optimizer.bin'));
    if (ob.byteLength !== specBytes(meta.optimizerState))
      throw new ModelFormatError(
        dir,
        `optimizer.bin has ${ob.byteLength} bytes, expected ${specBytes(meta.optimizerState)}; cannot resume`,
      );
    optimizer = splitWeights(dir, 'optimizer.bin', ob, meta.optimizerState);
  }
  return { meta, weights, optimizer };
}
