/**
 * What leaves or enters the app as files: `models.export` / `models.import` (zip or folder), and
 * predictions as CSV or copied into one folder per label (never overwriting).
 */
import { promises as fs, constants as fsConstants } from 'node:fs';
import { randomBytes } from 'node:crypto';
import * as nodePath from 'node:path';
import Papa from 'papaparse';
import { ServiceError, type PredictionRow, type Results, type ParsedArgs } from '../contract.js';
import {
  importModel,
  isModelBackupZip,
  zipModelFolder,
  slug,
  writeFileAtomic,
  MAX_MODEL_BYTES,
  type ModelMeta,
} from '../store/index.js';
import { checkRoom } from '../data/disk-space.js';
import type { ServiceContext } from './context.js';
import { toSummary } from './model-cache.js';
import { errno, modelLoadError, toServiceError } from './errors.js';

/** Largest export returned inline (the import side accepts the same as a dropped file). */
const MAX_INLINE_EXPORT = 48 * 1024 * 1024;

export async function exportModel(
  ctx: ServiceContext,
  { id, dest, format }: ParsedArgs<'models.export'>,
  appVersion?: string,
): Promise<Results['models.export']> {
  if (format === 'onnx') return exportOnnxFile(ctx, id, dest, appVersion);
  await ctx.models.meta(id);
  // An id in the models folder or a granted model folder (`rank1 train --out DIR`), as for ONNX.
  const { dir } = await ctx.models.locate(id);
  let fileName: string;
  let zip: Uint8Array;
  try {
    ({ fileName, zip } = await zipModelFolder(dir));
  } catch (e) {
    throw modelLoadError(id, e);
  }
  if (dest !== undefined) {
    const target = await exportTarget(ctx, dest, fileName);
    if (!(await replaceableZip(target)))
      throw new ServiceError(
        'conflict',
        `${target} already exists and is not a model backup of this app; choose another file name.`,
        'dest',
      );
    await checkExportRoom(ctx, target, zip, 'the model backup');
    await writeFileAtomic(target, zip);
    return { path: target, fileName: nodePath.basename(target) };
  }
  return inlineExport(fileName, zip);
}

/** An export without a destination: returned inline, when small enough to travel in one message. */
function inlineExport(
  fileName: string,
  bytes: Uint8Array,
  metadata?: Record<string, string>,
): Results['models.export'] {
  if (bytes.byteLength > MAX_INLINE_EXPORT) {
    throw new ServiceError(
      'too-large',
      `The export is ${Math.round(bytes.byteLength / 2 ** 20)} MB; choose a destination file instead.`,
      'dest',
    );
  }
  return {
    fileName,
    base64: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'),
    ...(metadata ? { metadata } : {}),
  };
}

/**
 * The model as one ONNX file for deployment (issue 17; engine/export): written beside nothing it
 * could replace (only an earlier ONNX export of this app), never half-written.
 */
async function exportOnnxFile(
  ctx: ServiceContext,
  id: string,
  dest: string | undefined,
  appVersion: string | undefined,
): Promise<Results['models.export']> {
  const meta = await ctx.models.meta(id);
  const { dir } = await ctx.models.locate(id);
  const engine = await ctx.readyEngine();
  if (!engine.exportOnnx || !engine.writeExportFile)
    throw new ServiceError('unsupported', 'This build has no ONNX export.');
  const fileName = `${slug(meta.name || id)}.onnx`;
  const target = dest === undefined ? undefined : await exportTarget(ctx, dest, fileName);
  let bytes: Uint8Array;
  let metadata: Record<string, string>;
  try {
    ({ bytes, metadata } = await engine.exportOnnx(dir, { appVersion }));
  } catch (e) {
    if (e instanceof Error && e.name === 'UnsupportedLayerError')
      throw new ServiceError('unsupported', `Model "${id}" cannot be exported to ONNX: ${e.message}.`);
    throw modelLoadError(id, e);
  }
  if (target !== undefined) {
    await checkExportRoom(ctx, target, bytes, 'the ONNX export');
    try {
      await engine.writeExportFile(target, bytes);
    } catch (e) {
      if (e instanceof Error && e.name === 'ExportTargetError')
        throw new ServiceError('conflict', e.message, 'dest');
      throw toServiceError(e);
    }
    return { path: target, fileName: nodePath.basename(target), metadata };
  }
  return inlineExport(fileName, bytes, metadata);
}

/**
 * Room on the destination's disk for `bytes` (data/disk-space.ts) before the temporary file is
 * written: the whole export, since an earlier one it replaces stays until the rename.
 */
async function checkExportRoom(
  ctx: ServiceContext,
  target: string,
  bytes: Uint8Array,
  what: string,
): Promise<void> {
  await checkRoom(
    nodePath.dirname(target),
    bytes.byteLength,
    { label: target, what, place: 'its folder' },
    ctx.freeSpace,
  );
}

/** Nothing at `file` yet, or a model backup of this app (the store looks inside the zip). */
async function replaceableZip(file: string): Promise<boolean> {
  const taken = await fs.lstat(file).then(
    () => true,
    () => false,
  );
  return !taken || isModelBackupZip(file);
}

/** A granted destination: the file itself, or `fileName` inside a granted folder. */
async function exportTarget(ctx: ServiceContext, dest: string, fileName: string): Promise<string> {
  const target = ctx.grants.check(dest, 'dest');
  const stat = await fs.stat(target).catch(() => undefined);
  return stat?.isDirectory() ? nodePath.join(target, fileName) : target;
}

export async function importModelFrom(
  ctx: ServiceContext,
  { path, file }: ParsedArgs<'models.import'>,
): Promise<Results['models.import']> {
  let meta: ModelMeta;
  const opts = { freeSpace: ctx.freeSpace };
  if (path !== undefined) {
    const real = ctx.grants.check(path, 'path');
    const stat = await fs.stat(real).catch(() => undefined);
    if (!stat) throw new ServiceError('not-found', `"path": ${path.slice(0, 300)} does not exist.`, 'path');
    if (stat.isDirectory()) meta = await importModel(ctx.home, { dir: real }, opts);
    else if (!stat.isFile())
      // A pipe or device: reading it would wait for a writer, perhaps forever.
      throw new ServiceError(
        'bad-request',
        `"path": ${path.slice(0, 300)} is not a file or folder (a pipe or device); choose a model zip or folder.`,
        'path',
      );
    else {
      if (stat.size > MAX_MODEL_BYTES)
        throw new ServiceError('too-large', 'The file is larger than any model export (2 GB).', 'path');
      meta = await importModel(ctx.home, { zip: await fs.readFile(real), name: real }, opts);
    }
  } else {
    meta = await importModel(ctx.home, { zip: Buffer.from(file!.base64, 'base64'), name: file!.name }, opts);
  }
  return toSummary(meta);
}

export async function copyPredictions(
  ctx: ServiceContext,
  rows: PredictionRow[],
  dest: string,
): Promise<Results['predictions.copy']> {
  const target = ctx.grants.check(dest, 'dest');
  // The app's own folders (models, caches) are never an output for copies.
  const inHome = nodePath.relative(ctx.home, target);
  if (!inHome.startsWith('..') && !nodePath.isAbsolute(inHome))
    throw new ServiceError(
      'bad-request',
      `${dest.slice(0, 300)} is inside the app's data folder; choose a folder of your own.`,
      'dest',
    );
  // Check every source before copying anything: one refused path refuses the whole request.
  const plan: { src: string; folder: string }[] = [];
  const skipped: { file: string; reason: string }[] = [];
  rows.forEach((row, i) => {
    if (row.error || row.dropped) {
      skipped.push({
        file: String(row.file),
        reason: row.error ? 'could not be read' : 'dropped image (no file on disk)',
      });
      return;
    }
    const folder = row.ood
      ? '_ood'
      : row.uncertain
        ? '_uncertain'
        : row.label
          ? safeFolderName(row.label)
          : undefined;
    if (!folder) {
      skipped.push({ file: String(row.file), reason: 'no label' });
      return;
    }
    plan.push({ src: ctx.grants.check(row.file, `rows.${i}.file`), folder });
  });
  // A label folder already there must be a folder of dest itself: a link would lead the copies
  // out of the granted destination. Checked before anything is copied.
  for (const folder of new Set(plan.map((p) => p.folder))) {
    const dir = nodePath.join(target, folder);
    const st = await fs.lstat(dir).catch(() => undefined);
    if (st && !st.isDirectory())
      throw new ServiceError(
        'conflict',
        `${dir} is ${st.isSymbolicLink() ? 'a link' : 'a file'}, not a folder; nothing was copied (move it away or choose another destination).`,
        'dest',
      );
  }
  await fs.mkdir(target, { recursive: true });
  // Keyed by label: a Map, so a label named __proto__ counts like any other.
  const folders = new Map<string, number>();
  let copied = 0;
  for (const { src, folder } of plan) {
    // A pipe or device would block the copy (or never end): skipped, saying so.
    if ((await fs.stat(src).catch(() => undefined))?.isFile() === false) {
      skipped.push({ file: src, reason: 'not a regular file (a pipe, device or folder); not copied' });
      continue;
    }
    const dir = nodePath.join(target, folder);
    await fs.mkdir(dir, { recursive: true });
    try {
      await copyNoOverwrite(src, dir);
      folders.set(folder, (folders.get(folder) ?? 0) + 1);
      copied++;
    } catch (e) {
      skipped.push({ file: src, reason: toServiceError(e).message });
    }
  }
  return {
    dest: target,
    copied,
    folders: Object.fromEntries(folders),
    ...(skipped.length ? { skipped } : {}),
  };
}

/** A class label as one safe folder name (no separators, no dot-only names). */
export function safeFolderName(label: string): string {
  const s = label
    .replace(/[\\/:*?"<>|\p{Cc}]/gu, '_')
    .trim()
    .slice(0, 100);
  return !s || /^\.+$/.test(s) ? '_unnamed' : s;
}

/**
 * Copy into `dir` under the source's name, adding " (n)" before the extension when taken. The bytes
 * go to a temporary name in the same folder first and are published whole, so a copy that dies
 * midway (process killed, disk full) never leaves a partial image under the user's name.
 */
async function copyNoOverwrite(src: string, dir: string): Promise<string> {
  const ext = nodePath.extname(src);
  const stem = nodePath.basename(src, ext);
  // Short and unique whatever the source's name (a long name plus a suffix could pass NAME_MAX).
  const tmp = nodePath.join(dir, `.rank1-copy-${randomBytes(6).toString('hex')}.tmp`);
  await fs.copyFile(src, tmp, fsConstants.COPYFILE_EXCL).catch(async (e: unknown) => {
    await fs.rm(tmp, { force: true });
    throw e;
  });
  try {
    for (let n = 0; n < 10_000; n++) {
      const target = nodePath.join(dir, n === 0 ? `${stem}${ext}` : `${stem} (${n})${ext}`);
      if (await publishNoOverwrite(tmp, target)) return target;
    }
    throw new ServiceError('conflict', `Too many files named ${stem}${ext} in ${dir}.`);
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

/**
 * Give the finished temporary file `tmp` the name `target` unless that name is taken (false then).
 * A hard link is atomic and refuses an existing name; where the file system has no hard links
 * (FAT, some network shares) a rename after a look stands in, leaving only a tiny race.
 */
async function publishNoOverwrite(tmp: string, target: string): Promise<boolean> {
  try {
    await fs.link(tmp, target);
    return true;
  } catch (e) {
    const code = errno(e);
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS' && code !== 'EOPNOTSUPP') throw e;
  }
  if (
    await fs.lstat(target).then(
      () => true,
      () => false,
    )
  )
    return false;
  await fs.rename(tmp, target);
  return true;
}

const CSV_COLUMNS = [
  'file',
  'name',
  'label',
  'confidence',
  'entropy',
  'expected_entropy',
  'mutual_information',
  'ood',
  'uncertain',
  'flag_score',
  'flag_value',
  'flag_threshold',
  'error',
] as const;

function cell(v: unknown): string | number | boolean {
  if (typeof v === 'number') return Number.isFinite(v) ? v : '';
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') return v.slice(0, 4096);
  return '';
}

/** CSV of prediction rows; cells starting with = + - @ are escaped so spreadsheets do not run them. */
export function predictionsCsv(rows: PredictionRow[]): string {
  const classes: string[] = [];
  const seen = new Set<string>();
  for (const r of rows) {
    if (!r.probs || typeof r.probs !== 'object') continue;
    for (const c of Object.keys(r.probs)) {
      if (!seen.has(c) && classes.length < 1000) {
        seen.add(c);
        classes.push(c);
      }
    }
  }
  const fields = [...CSV_COLUMNS, ...classes.map((c) => `p_${c}`)];
  const data = rows.map((r) => {
    const flag = r.flag && typeof r.flag === 'object' ? r.flag : undefined;
    const base = [
      r.file,
      r.name,
      r.label,
      r.confidence,
      r.entropy,
      r.expectedEntropy,
      r.mutualInformation,
      r.ood,
      r.uncertain,
      flag?.score,
      flag?.value,
      flag?.threshold,
      r.error,
    ].map(cell);
    return [...base, ...classes.map((c) => cell(r.probs?.[c]))];
  });
  return Papa.unparse({ fields, data }, { escapeFormulae: true, newline: '\n' });
}
