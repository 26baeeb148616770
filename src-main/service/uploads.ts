/**
 * Browser upload (issue 15): in `rank1 serve` mode a user picks or drops files and folders; the
 * renderer sends them in chunks into a new folder under `<data home>/uploads/`, which is then
 * imported like any other dataset. Nothing is written outside that folder: every relative path
 * is split and each part made a safe name (no '..', no separators, no hidden names); chunks only
 * append at the file's current end; files and uploads have size limits. The size the browser
 * declares is checked against the disk before the folder is made (data/disk-space.ts).
 */
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { ServiceError, type ParsedArgs, type Results } from '../contract.js';
import { byteSize, checkRoom } from '../data/disk-space.js';
import type { ServiceContext } from './context.js';
import { safeFolderName } from './exports.js';

/** Largest file accepted (the image decoder refuses larger images anyway). */
export const MAX_UPLOAD_FILE_BYTES = 64 * 2 ** 20;
/** Largest upload in all. */
export const MAX_UPLOAD_BYTES = 4 * 2 ** 30;
/** Folder levels kept below the upload's folder (split/class/file). */
const MAX_DEPTH = 4;

interface Upload {
  /** The name it began with, for messages. */
  name: string;
  dir: string;
  bytes: number;
  /** The total the browser declared at begin (at most MAX_UPLOAD_BYTES); the chunks may not exceed it. */
  declared: number;
  files: Map<string, number>;
}

const uploads = new WeakMap<ServiceContext, Map<string, Upload>>();

function table(ctx: ServiceContext): Map<string, Upload> {
  let t = uploads.get(ctx);
  if (!t) uploads.set(ctx, (t = new Map()));
  return t;
}

/** A relative path from the browser as safe parts inside the upload folder. */
export function safeRelative(rel: string): string[] {
  const parts = rel
    .split(/[\\/]+/)
    .filter((p) => p !== '' && p !== '.' && p !== '..')
    .map((p) => safeFolderName(p).replace(/^\.+/, '_'));
  if (!parts.length) throw new ServiceError('bad-request', 'uploads.chunk: "path" names no file.', 'path');
  return parts.slice(-MAX_DEPTH);
}

export async function beginUpload(
  ctx: ServiceContext,
  { name, bytes: declared }: ParsedArgs<'uploads.begin'>,
): Promise<Results['uploads.begin']> {
  const base = nodePath.join(ctx.home, 'uploads');
  if (declared > MAX_UPLOAD_BYTES)
    throw new ServiceError(
      'too-large',
      `${name}: the upload is ${byteSize(declared)}, larger than ${MAX_UPLOAD_BYTES / 2 ** 30} GB.`,
      'bytes',
    );
  // Once, for the whole upload, before its folder exists: a refusal leaves nothing behind.
  await checkRoom(base, declared, { label: name, what: 'the upload', place: 'the data home' }, ctx.freeSpace);
  await fs.mkdir(base, { recursive: true });
  const stem = safeFolderName(name).replace(/^\.+/, '_');
  // A new folder each time: an upload never mixes with or replaces an earlier one.
  let dir = '';
  for (let n = 0; n < 1000; n++) {
    dir = nodePath.join(base, n === 0 ? stem : `${stem} (${n + 1})`);
    try {
      await fs.mkdir(dir);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || n === 999) throw e;
    }
  }
  const uploadId = `u${ctx.clock().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  table(ctx).set(uploadId, { name, dir, bytes: 0, files: new Map(), declared });
  return { uploadId, folder: dir };
}

export async function uploadChunk(
  ctx: ServiceContext,
  a: ParsedArgs<'uploads.chunk'>,
): Promise<Results['uploads.chunk']> {
  const up = table(ctx).get(a.uploadId);
  if (!up) throw new ServiceError('not-found', `No upload "${a.uploadId}"; start it again.`, 'uploadId');
  const parts = safeRelative(a.path);
  const key = parts.join('/');
  const have = up.files.get(key) ?? 0;
  if (a.offset !== have)
    throw new ServiceError(
      'conflict',
      `${key}: chunk at byte ${a.offset}, but ${have} bytes have arrived; send the file again from there.`,
      'offset',
    );
  const bytes = Buffer.from(a.base64, 'base64');
  if (have + bytes.length > MAX_UPLOAD_FILE_BYTES)
    throw new ServiceError(
      'too-large',
      `${key} is larger than ${MAX_UPLOAD_FILE_BYTES / 2 ** 20} MB.`,
      'path',
    );
  if (up.bytes + bytes.length > up.declared)
    throw new ServiceError(
      'too-large',
      `${key}: the upload "${up.name}" was declared as ${byteSize(up.declared)} and this chunk takes it to ${byteSize(up.bytes + bytes.length)}; begin it again with its full size.`,
      'path',
    );
  const file = nodePath.join(up.dir, ...parts);
  await fs.mkdir(nodePath.dirname(file), { recursive: true });
  // First chunk: the file must not exist yet (two browser files with one safe name: refused).
  await fs.writeFile(file, bytes, { flag: have === 0 ? 'wx' : 'a' }).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'EEXIST')
      throw new ServiceError('conflict', `${key} was sent twice in this upload.`, 'path');
    throw e;
  });
  up.files.set(key, have + bytes.length);
  up.bytes += bytes.length;
  return { path: key, bytes: have + bytes.length };
}

export async function finishUpload(
  ctx: ServiceContext,
  { uploadId }: ParsedArgs<'uploads.finish'>,
): Promise<Results['uploads.finish']> {
  const up = table(ctx).get(uploadId);
  if (!up) throw new ServiceError('not-found', `No upload "${uploadId}"; start it again.`, 'uploadId');
  table(ctx).delete(uploadId);
  return { folder: up.dir, files: up.files.size, bytes: up.bytes };
}
