/**
 * A model on disk is a folder: `model.json` (metadata, format version, weight manifest with a
 * SHA-256 of the weights) and `weights.bin` (TF.js weights format: the tensors' bytes
 * concatenated in manifest order). Written atomically: a temporary sibling folder, fsync, then
 * rename, so a crash mid-save never leaves a half-written model under the final name.
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import type {
  Calibration,
  DatasetMetrics,
  EpochMetrics,
  ModelConfig,
  PredictionPlan,
  TrainConfig,
} from '../engine/types.js';
import type { Preprocessing } from '../data/types.js';

export const MODEL_FORMAT = 'rank1-studio-model';
export const MODEL_FORMAT_VERSION = 1;

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
}

export interface ModelMeta {
  format: typeof MODEL_FORMAT;
  formatVersion: number;
  id: string;
  name: string;
  createdAt: string;
  classes: string[];
  config: ModelConfig;
  train: TrainConfig;
  preprocessing: Preprocessing;
  /** Normalisation applied to uint8 pixels / 255 before the network, per channel. */
  normalization: { mean: number[]; std: number[] };
  datasetRoot?: string;
  /** Files held out for validation/test, so `eval` on the training folder measures held-out data. */
  heldOut?: { val: string[]; test: string[] };
  trainSize: number;
  metrics?: { val?: Partial<DatasetMetrics> };
  history: EpochMetrics[];
  backend?: { name: string; device: string };
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
  demo?: boolean;
}

export class ModelFormatError extends Error {
  constructor(
    readonly dir: string,
    message: string,
  ) {
    super(`${dir}: ${message}`);
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

async function writeFileSynced(file: string, data: string | Buffer): Promise<void> {
  const handle = await fs.open(file, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Write a model folder atomically. `meta.weights` is filled in here. An existing folder at `dir`
 * is replaced only after the new one is complete (rename old aside, rename new in, remove old).
 */
export async function writeModelFolder(
  dir: string,
  meta: Omit<ModelMeta, 'weights' | 'format' | 'formatVersion'>,
  weights: NamedWeight[],
  optimizer: NamedWeight[] = [],
): Promise<ModelMeta> {
  const { specs, buffer } = concatWeights(weights);
  const opt = concatWeights(optimizer);
  const full: ModelMeta = {
    ...meta,
    format: MODEL_FORMAT,
    formatVersion: MODEL_FORMAT_VERSION,
    optimizerState: optimizer.length ? opt.specs : undefined,
    weights: { specs, bytes: buffer.byteLength, sha256: createHash('sha256').update(buffer).digest('hex') },
  };
  const parent = nodePath.dirname(dir);
  await fs.mkdir(parent, { recursive: true });
  const tmp = nodePath.join(parent, `.${nodePath.basename(dir)}.tmp-${randomBytes(4).toString('hex')}`);
  await fs.mkdir(tmp);
  const old = `${tmp}-old`;
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
    if (hadOld) await fs.rm(old, { recursive: true, force: true }).catch(() => undefined);
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true });
    // The new folder did not get in: put the old one back under its name.
    if (hadOld) await fs.rename(old, dir).catch(() => undefined);
    throw e;
  }
  return full;
}

/** Read and check `model.json` only (cheap: for lists). */
export async function readModelMeta(dir: string): Promise<ModelMeta> {
  let text: string;
  try {
    text = await fs.readFile(nodePath.join(dir, 'model.json'), 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ModelFormatError(
      dir,
      code === 'ENOENT' ? 'not a model folder (no model.json)' : `cannot read model.json (${code})`,
    );
  }
  let meta: ModelMeta;
  try {
    meta = JSON.parse(text) as ModelMeta;
  } catch {
    throw new ModelFormatError(dir, 'model.json is not valid JSON (truncated or edited?)');
  }
  if (meta?.format !== MODEL_FORMAT)
    throw new ModelFormatError(dir, 'model.json is not a Rank-1 Studio model');
  if (typeof meta.formatVersion !== 'number' || meta.formatVersion > MODEL_FORMAT_VERSION) {
    throw new ModelFormatError(
      dir,
      `model format version ${meta.formatVersion} is newer than this app reads (${MODEL_FORMAT_VERSION}); update Rank-1 Studio`,
    );
  }
  for (const key of ['classes', 'config', 'preprocessing', 'weights'] as const) {
    if (!meta[key]) throw new ModelFormatError(dir, `model.json lacks "${key}"`);
  }
  return meta;
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
  let buffer: Buffer;
  try {
    buffer = await fs.readFile(nodePath.join(dir, 'weights.bin'));
  } catch {
    throw new ModelFormatError(dir, 'weights.bin is missing');
  }
  if (buffer.byteLength !== meta.weights.bytes) {
    throw new ModelFormatError(
      dir,
      `weights.bin has ${buffer.byteLength} bytes, expected ${meta.weights.bytes} (truncated?)`,
    );
  }
  if (createHash('sha256').update(buffer).digest('hex') !== meta.weights.sha256) {
    throw new ModelFormatError(dir, 'weights.bin does not match its recorded SHA-256 (damaged or tampered)');
  }
  const weights = splitWeights(dir, 'weights.bin', buffer, meta.weights.specs);
  let optimizer: NamedWeight[] = [];
  if (opts.optimizer && meta.optimizerState?.length) {
    const ob = await fs.readFile(nodePath.join(dir, 'optimizer.bin')).catch(() => {
      throw new ModelFormatError(dir, 'optimizer.bin is missing; cannot resume');
    });
    optimizer = splitWeights(dir, 'optimizer.bin', ob, meta.optimizerState);
  }
  return { meta, weights, optimizer };
}
