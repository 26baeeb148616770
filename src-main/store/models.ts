/**
 * The models folder (`<home>/models/<id>/`): list, get, rename, remove, export and import as zip.
 * One broken folder never breaks the list; it is reported beside the good ones.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { strFromU8, unzipSync, zipSync } from 'fflate';
import { writeFileAtomic } from './atomic.js';
import { StoreError } from './errors.js';
import {
  checkModelMeta,
  describeStatus,
  MODEL_FILES,
  MODEL_FORMAT,
  MODEL_LIMITS,
  specBytes,
  ownModelFile,
  type ModelAccuracy,
  type ModelStatus,
  readModelFolder,
  readModelMeta,
  type ModelMeta,
} from '../engine/model-format.js';
import { recoverLeftovers, removeOurFolder } from '../engine/output-guard.js';
// The disk check's own file, not data/index.js: the store loads with the service, the data room (sharp) later.
import { lackOfSpace, type FreeSpace } from '../data/disk-space.js';

export const MODEL_ID = /^[A-Za-z0-9._-]+$/;
/** Largest uncompressed model we unpack (a WRN-28-10 is ~150 MB of weights). */
export const MAX_MODEL_BYTES = 2 * 1024 ** 3;

export function modelsDir(home: string): string {
  return nodePath.join(home, 'models');
}

export function modelDir(home: string, id: string): string {
  if (!MODEL_ID.test(id) || id.startsWith('.'))
    throw new StoreError('bad-request', `"${id.slice(0, 200)}" is not a valid model id`, 'id');
  return nodePath.join(modelsDir(home), id);
}

/** A lowercase slug for ids and file names ("My Cats!" → "my-cats"). */
export function slug(name: string): string {
  const s = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  return s || 'model';
}

export function newModelId(name: string): string {
  return `${slug(name)}-${randomBytes(3).toString('hex')}`;
}

/**
 * What a model list shows: the meta without weights, held-out lists or optimizer state, with its
 * status (complete, or a resumable checkpoint at epoch N of M), its one accuracy and the images it
 * was measured on, and the warning its predictions carry.
 */
export type ModelListing = Pick<
  ModelMeta,
  | 'id'
  | 'name'
  | 'createdAt'
  | 'classes'
  | 'config'
  | 'train'
  | 'preprocessing'
  | 'metrics'
  | 'history'
  | 'backend'
  | 'epoch'
> & {
  backbone?: { name: string; sha256: string } | null;
  ood?: { score: string; threshold: number; tpr: number; thresholds?: Record<string, number> };
  demo?: boolean;
  status: ModelStatus;
  epochs: number;
  accuracy?: ModelAccuracy;
  warning?: string;
};

export function toSummary(meta: ModelMeta): ModelListing {
  return {
    id: meta.id,
    name: meta.name,
    createdAt: meta.createdAt,
    classes: meta.classes,
    config: meta.config,
    train: meta.train,
    preprocessing: meta.preprocessing,
    metrics: meta.metrics,
    history: meta.history,
    backend: meta.backend,
    backbone: meta.backbone ? { name: meta.backbone.name, sha256: meta.backbone.sha256 } : meta.backbone,
    ood: meta.ood
      ? {
          score: meta.ood.score,
          threshold: meta.ood.threshold,
          tpr: meta.ood.tpr,
          ...(meta.ood.thresholds ? { thresholds: meta.ood.thresholds } : {}),
        }
      : undefined,
    ...(meta.demo ? { demo: true } : {}),
    epoch: meta.epoch,
    ...describeStatus(meta),
  };
}

/**
 * The model Predict uses when none is chosen: the newest complete one, the demo last. An
 * incomplete checkpoint is never picked on its own (issue 15); undefined when there is none.
 */
export function defaultModel<T extends { createdAt: string; status?: ModelStatus; demo?: boolean }>(
  models: readonly T[],
): T | undefined {
  const complete = models
    .filter((m) => m.status !== 'incomplete')
    .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
  return complete.find((m) => !m.demo) ?? complete[0];
}

export interface BrokenModel {
  id: string;
  dir: string;
  reason: string;
}

/** Every readable model (newest first) plus the folders that could not be read. */
export async function listModels(home: string): Promise<{ models: ModelMeta[]; broken: BrokenModel[] }> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fs.readdir(modelsDir(home), { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { models: [], broken: [] };
    throw e;
  }
  const models: ModelMeta[] = [];
  const broken: BrokenModel[] = [];
  // Leftovers of a crash mid-write (issue 13): recovered or cleaned at start.
  if (entries.some((e) => e.name.startsWith('.'))) {
    await recoverLeftovers(modelsDir(home));
    await cleanInterrupted(home, entries);
    entries = await fs.readdir(modelsDir(home), { withFileTypes: true });
  }
  for (const entry of entries) {
    // Dot folders are temporaries of an atomic write or an import in progress.
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const dir = nodePath.join(modelsDir(home), entry.name);
    try {
      const meta = await readModelMeta(dir);
      // The folder name is the id, whatever model.json says (a copied folder keeps working).
      models.push({ ...meta, id: entry.name });
    } catch (e) {
      broken.push({ id: entry.name, dir, reason: e instanceof Error ? e.message : String(e) });
    }
  }
  models.sort((a, b) => String(b.createdAt).localeCompare(String(a.createdAt)));
  return { models, broken };
}

/** A removal renames first, so a leftover is always safe to finish. */
const REMOVING = /^\..+\.removing-[0-9a-f]{6}$/;
const IMPORTING = /^\.import-[0-9a-f]{8}$/;
/** An import may be running in another process (the CLI beside the app): only stale ones go. */
const STALE_IMPORT_MS = 60 * 60 * 1000;

/** Finish interrupted removals and drop stale import temporaries (only files the app writes). */
async function cleanInterrupted(home: string, entries: import('node:fs').Dirent[]): Promise<void> {
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const dir = nodePath.join(modelsDir(home), e.name);
    if (REMOVING.test(e.name)) await removeOurFolder(dir);
    else if (IMPORTING.test(e.name)) {
      const age = Date.now() - (await fs.stat(dir)).mtimeMs;
      if (age > STALE_IMPORT_MS) await removeOurFolder(dir);
    }
  }
}

/** The model's metadata; throws ModelFormatError (with `code` ENOENT-like message) when absent. */
export async function getModel(home: string, id: string): Promise<ModelMeta> {
  const dir = modelDir(home, id);
  const meta = await readModelMeta(dir);
  return { ...meta, id };
}

export async function modelExists(home: string, id: string): Promise<boolean> {
  try {
    return (await fs.stat(modelDir(home, id))).isDirectory();
  } catch {
    return false;
  }
}

/** Change the display name: model.json rewritten atomically (temp + rename). */
export async function renameModel(home: string, id: string, name: string): Promise<ModelMeta> {
  const dir = modelDir(home, id);
  const meta = await readModelMeta(dir);
  const next = { ...meta, name };
  await writeFileAtomic(nodePath.join(dir, 'model.json'), JSON.stringify(next, null, 1));
  return { ...next, id };
}

/** Put another score behind the model's OOD flag (its threshold was fitted with the model). */
export async function setFlagScore(home: string, id: string, score: string): Promise<ModelMeta> {
  return { ...(await setFlagScoreAt(modelDir(home, id), score)), id };
}

/** The same for a model folder anywhere (the CLI's `rank1 flag`). */
export async function setFlagScoreAt(dir: string, score: string): Promise<ModelMeta> {
  const meta = await readModelMeta(dir);
  const id = meta.id;
  const threshold = meta.ood?.thresholds?.[score];
  if (!meta.ood || threshold === undefined) {
    const known = Object.keys(meta.ood?.thresholds ?? {});
    throw new StoreError(
      'bad-request',
      `model "${id}" has no fitted threshold for "${score}"${known.length ? ` (available: ${known.join(', ')})` : '; retrain it to enable this'}`,
      'score',
    );
  }
  const next = { ...meta, ood: { ...meta.ood, score, threshold } };
  await writeFileAtomic(nodePath.join(dir, 'model.json'), JSON.stringify(next, null, 1));
  return next;
}

/** Remove a model folder: renamed aside first so a half-deleted folder never lists as a model. */
export async function removeModel(home: string, id: string): Promise<void> {
  const dir = modelDir(home, id);
  await fs.stat(dir);
  const trash = nodePath.join(modelsDir(home), `.${id}.removing-${randomBytes(3).toString('hex')}`);
  await fs.rename(dir, trash);
  await fs.rm(trash, { recursive: true, force: true });
}

export function exportFileName(meta: Pick<ModelMeta, 'name' | 'id'>): string {
  return `${slug(meta.name || meta.id)}.rank1.zip`;
}

/**
 * A model folder (in the models folder, or anywhere, e.g. `rank1 train --out DIR`) as a backup zip,
 * verified first, so an export never spreads a damaged model.
 */
export async function zipModelFolder(dir: string): Promise<{ fileName: string; zip: Uint8Array }> {
  const { meta } = await readModelFolder(dir);
  const files: Record<string, Uint8Array> = {
    'model.json': await fs.readFile(nodePath.join(dir, 'model.json')),
    // Weights are float32 noise to deflate: store them.
    'weights.bin': await fs.readFile(nodePath.join(dir, 'weights.bin')),
  };
  const zip = zipSync(
    { 'model.json': files['model.json']!, 'weights.bin': [files['weights.bin']!, { level: 0 }] },
    { level: 6 },
  );
  return { fileName: exportFileName(meta), zip };
}

/** A zip or folder that is not a model export (the message says why). */
export class ModelImportError extends StoreError {
  constructor(message: string) {
    super('failed', message);
    this.name = 'ModelImportError';
  }
}

/**
 * The entries of `zip` whose base names have a limit in `limits` (at the root or inside one
 * top-level folder; never anything else), refused before inflating when one would unpack to more
 * than its limit (`tooLarge` says so in one line).
 */
function unzipLimited(
  zip: Uint8Array,
  limits: Record<string, number>,
  tooLarge: (name: string, size: number, limit: number) => string,
): Record<string, Uint8Array> {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(zip, {
      filter: (f) => {
        const base = f.name.split('/').pop() ?? '';
        if (!Object.hasOwn(limits, base) || f.name.split('/').length > 2) return false;
        if (f.originalSize > limits[base]!)
          throw new ModelImportError(tooLarge(base, f.originalSize, limits[base]!));
        return true;
      },
    });
  } catch (e) {
    if (e instanceof ModelImportError) throw e;
    throw new ModelImportError(`not a readable zip file (${e instanceof Error ? e.message : String(e)})`);
  }
  const out: Record<string, Uint8Array> = {};
  for (const [name, data] of Object.entries(files)) {
    const base = name.split('/').pop()!;
    if (out[base]) throw new ModelImportError(`the zip holds more than one ${base}`);
    out[base] = data;
  }
  return out;
}

/** The zip's model.json (at its root or in one top-level folder), unpacked alone and bounded. */
function zipModelJson(zip: Uint8Array): Uint8Array | undefined {
  return unzipLimited(
    zip,
    { 'model.json': MODEL_LIMITS.metaBytes },
    (_n, size, limit) => `model.json in the zip is ${size} bytes; a model's metadata is at most ${limit}`,
  )['model.json'];
}

/**
 * True when `file` is a model backup of this app: a zip whose model.json says it is a Rank-1 Studio
 * model (a TF.js model zipped by its user also holds a model.json), so an export may replace it.
 * Only model.json is unpacked. Anything else (absent, a folder or pipe, not a zip, larger than
 * any model) is false.
 */
export async function isModelBackupZip(file: string): Promise<boolean> {
  const stat = await fs.lstat(file).catch(() => undefined);
  if (!stat?.isFile() || stat.size > MAX_MODEL_BYTES) return false;
  try {
    const json = zipModelJson(await fs.readFile(file));
    return (
      json !== undefined && (JSON.parse(strFromU8(json)) as { format?: unknown })?.format === MODEL_FORMAT
    );
  } catch {
    return false;
  }
}

/**
 * What an import will write, known before it writes: each file's size, and how to get the bytes.
 * `label` names the source in messages.
 */
interface ImportPlan {
  label: string;
  sizes: Record<string, number>;
  read(): Promise<Record<string, Uint8Array>>;
}

/**
 * model.json first: it says how large weights.bin and optimizer.bin are, so a zip can make us
 * inflate no more than that (a few kB of deflated zeros could otherwise unpack to gigabytes), and
 * the disk can be checked for room before anything is unpacked.
 */
function zipPlan(zip: Uint8Array, label: string): ImportPlan {
  const json = zipModelJson(zip);
  if (!json)
    throw new ModelImportError('the zip has no model.json and weights.bin; it is not a model export');
  const meta = checkModelMeta('the zip', strFromU8(json));
  const limits = {
    'weights.bin': meta.weights.bytes,
    ...(meta.optimizerState?.length ? { 'optimizer.bin': specBytes(meta.optimizerState) } : {}),
  };
  return {
    label,
    sizes: { 'model.json': json.byteLength, ...limits },
    async read() {
      const bins = unzipLimited(
        zip,
        limits,
        (name, size, limit) =>
          `${name} in the zip unpacks to ${size} bytes; its model.json says ${limit} (not a model export, or damaged)`,
      );
      if (!bins['weights.bin'])
        throw new ModelImportError('the zip has no model.json and weights.bin; it is not a model export');
      return { 'model.json': json, ...bins };
    },
  };
}

/** The folder's own model files (a link out of it or a pipe is refused unread), copied as they are. */
async function folderPlan(dir: string): Promise<ImportPlan> {
  const sizes: Record<string, number> = {};
  for (const name of MODEL_FILES) {
    const st = await ownModelFile(dir, name);
    if (st) sizes[name] = st.size;
  }
  if (sizes['model.json'] === undefined)
    throw new ModelImportError('the folder has no model.json; it is not a model folder');
  return {
    label: dir,
    sizes,
    async read() {
      const files: Record<string, Uint8Array> = {};
      for (const name of Object.keys(sizes)) files[name] = await fs.readFile(nodePath.join(dir, name));
      return files;
    },
  };
}

export interface ImportOptions {
  /** Free bytes on the disk of the models folder; the real disk's by default (a test declares one). */
  freeSpace?: FreeSpace;
}

/**
 * Import a model from zip bytes (`name`: the zip as the user knows it, for messages) or a model
 * folder: check that the disk has room for what model.json declares (or the folder holds), unpack
 * into a temporary folder inside the models folder, verify (format version, sizes, SHA-256), give
 * it a fresh id, then rename into place.
 */
export async function importModel(
  home: string,
  source: { zip: Uint8Array; name?: string } | { dir: string },
  { freeSpace }: ImportOptions = {},
): Promise<ModelMeta> {
  const plan = 'zip' in source ? zipPlan(source.zip, source.name ?? 'the zip') : await folderPlan(source.dir);
  const root = modelsDir(home);
  const need = Object.values(plan.sizes).reduce((a, b) => a + b, 0);
  const lack = await lackOfSpace(root, need, 'the models folder', freeSpace);
  if (lack) throw new ModelImportError(`${plan.label}: the model ${lack}`);
  const files = await plan.read();
  await fs.mkdir(root, { recursive: true });
  const tmp = nodePath.join(root, `.import-${randomBytes(4).toString('hex')}`);
  await fs.mkdir(tmp);
  try {
    for (const [name, data] of Object.entries(files)) await fs.writeFile(nodePath.join(tmp, name), data);
    const { meta } = await readModelFolder(tmp);
    const id = newModelId(meta.name || meta.id || 'model');
    const next: ModelMeta = { ...meta, id };
    await writeFileAtomic(nodePath.join(tmp, 'model.json'), JSON.stringify(next, null, 1));
    await fs.rename(tmp, modelDir(home, id));
    return next;
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw e;
  }
}
