/**
 * The on-disk cache of one dataset + preprocessing, under `dataHome()/datasets/<id>/`:
 *  - `pixels.bin`: fixed-size records (size·size·storageChannels bytes), append-only; a record is
 *    written before the index refers to it, so a cancelled import leaves at most an unreferenced
 *    tail, which the next import truncates.
 *  - `index.json`: columnar entries (path rel to root, size, mtime, slot, crc32, content hash, grey;
 *    failed files keep slot -1 and their reason so they are not retried until they change),
 *    written to a temp file and renamed. Damage (unparseable index, short pack, CRC mismatch) is
 *    detected on open; the damaged records are decoded again.
 *  - `dataset.json`: the summary `listDatasets` shows, written last.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import type { ExampleSet, Preprocessing } from './types.js';

export const INDEX_VERSION = 1;

export interface CacheEntry {
  rel: string;
  size: number;
  mtimeMs: number;
  /** Record slot in pixels.bin, or -1 for a file that failed to decode. */
  slot: number;
  crc: number;
  hash: string;
  grey: boolean;
  reason?: string;
  message?: string;
}

interface IndexFile {
  version: number;
  recordSize: number;
  slots: number;
  rel: string[];
  size: number[];
  mtimeMs: number[];
  slot: number[];
  crc: number[];
  hash: string[];
  grey: number[];
  failures: Record<string, [string, string]>;
}

export interface DatasetSummary {
  id: string;
  root: string;
  images: number;
  classes: string[];
  preprocessing: Preprocessing;
  importedAt: string;
}

export interface LoadedIndex {
  entries: Map<string, CacheEntry>;
  slots: number;
  /** Why (part of) the cache was found damaged, if it was. */
  damage?: string;
}

export const packPath = (dir: string) => path.join(dir, 'pixels.bin');
const indexPath = (dir: string) => path.join(dir, 'index.json');
const summaryPath = (dir: string) => path.join(dir, 'dataset.json');

/** Write a file atomically: temp file in the same folder, then rename. */
export async function writeAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    await fs.writeFile(tmp, data);
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}

/** Load the index and verify the pack against it (length, then CRC of every referenced record). */
export async function loadIndex(dir: string, recordSize: number): Promise<LoadedIndex> {
  let idx: IndexFile;
  try {
    idx = JSON.parse(await fs.readFile(indexPath(dir), 'utf8')) as IndexFile;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { entries: new Map(), slots: 0 };
    return { entries: new Map(), slots: 0, damage: 'cache index unreadable; rebuilt' };
  }
  const n = idx.rel?.length ?? -1;
  const ok =
    idx.version === INDEX_VERSION &&
    idx.recordSize === recordSize &&
    [idx.size, idx.mtimeMs, idx.slot, idx.crc, idx.hash, idx.grey].every((col) => Array.isArray(col) && col.length === n);
  if (!ok) return { entries: new Map(), slots: 0, damage: 'cache index inconsistent; rebuilt' };
  const entries = new Map<string, CacheEntry>();
  for (let i = 0; i < n; i++) {
    const failure = idx.failures?.[idx.rel[i]!];
    entries.set(idx.rel[i]!, {
      rel: idx.rel[i]!,
      size: idx.size[i]!,
      mtimeMs: idx.mtimeMs[i]!,
      slot: idx.slot[i]!,
      crc: idx.crc[i]!,
      hash: idx.hash[i]!,
      grey: idx.grey[i] === 1,
      ...(failure ? { reason: failure[0], message: failure[1] } : {}),
    });
  }
  const bad = await verifyPack(dir, recordSize, idx.slots, entries);
  const damage = bad > 0 ? `cache damaged (${bad} record${bad === 1 ? '' : 's'} failed the length/checksum check); rebuilt` : undefined;
  return { entries, slots: idx.slots, ...(damage ? { damage } : {}) };
}

/** Drop entries whose record is missing or fails its CRC. Returns how many were dropped. */
async function verifyPack(dir: string, recordSize: number, slots: number, entries: Map<string, CacheEntry>): Promise<number> {
  const bySlot = new Map<number, CacheEntry>();
  for (const e of entries.values()) if (e.slot >= 0) bySlot.set(e.slot, e);
  if (bySlot.size === 0) return 0;
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(packPath(dir), 'r');
  } catch {
    for (const e of bySlot.values()) entries.delete(e.rel);
    return bySlot.size;
  }
  let bad = 0;
  try {
    const length = (await fh.stat()).size;
    const perChunk = Math.max(1, Math.floor((4 << 20) / recordSize));
    const buf = Buffer.allocUnsafe(perChunk * recordSize);
    for (let first = 0; first < slots; first += perChunk) {
      const count = Math.min(perChunk, slots - first);
      const { bytesRead } = await fh.read(buf, 0, count * recordSize, first * recordSize);
      for (let s = first; s < first + count; s++) {
        const e = bySlot.get(s);
        if (!e) continue;
        const off = (s - first) * recordSize;
        const intact = (s + 1) * recordSize <= length && off + recordSize <= bytesRead && zlib.crc32(buf.subarray(off, off + recordSize)) === e.crc;
        if (!intact) {
          entries.delete(e.rel);
          bad++;
        }
      }
    }
  } finally {
    await fh.close();
  }
  return bad;
}

export async function saveIndex(dir: string, recordSize: number, slots: number, entries: Iterable<CacheEntry>): Promise<void> {
  const idx: IndexFile = { version: INDEX_VERSION, recordSize, slots, rel: [], size: [], mtimeMs: [], slot: [], crc: [], hash: [], grey: [], failures: {} };
  for (const e of entries) {
    idx.rel.push(e.rel);
    idx.size.push(e.size);
    idx.mtimeMs.push(e.mtimeMs);
    idx.slot.push(e.slot);
    idx.crc.push(e.crc);
    idx.hash.push(e.hash);
    idx.grey.push(e.grey ? 1 : 0);
    if (e.reason) idx.failures[e.rel] = [e.reason, e.message ?? ''];
  }
  await writeAtomic(indexPath(dir), JSON.stringify(idx));
}

export async function saveSummary(dir: string, summary: DatasetSummary): Promise<void> {
  await writeAtomic(summaryPath(dir), JSON.stringify(summary, null, 2));
}

export async function readSummary(dir: string): Promise<DatasetSummary | null> {
  try {
    return JSON.parse(await fs.readFile(summaryPath(dir), 'utf8')) as DatasetSummary;
  } catch {
    return null;
  }
}

/**
 * Examples backed by records in a pack file, read with positioned reads so memory stays bounded.
 * When the pack stores RGB but the dataset is grey (channels 'auto' on all-grey data), the first
 * channel is returned (R = G = B there).
 */
export class PackedExampleSet implements ExampleSet {
  readonly count: number;
  readonly height: number;
  readonly width: number;
  constructor(
    private readonly pack: string,
    private readonly slots: Int32Array,
    readonly labels: Int32Array,
    readonly files: readonly string[],
    size: number,
    private readonly storageChannels: 1 | 3,
    readonly channels: 1 | 3,
  ) {
    this.count = slots.length;
    this.height = size;
    this.width = size;
  }

  async read(indices: ArrayLike<number>): Promise<Uint8Array> {
    const n = indices.length;
    const pixelsPer = this.height * this.width;
    const recordSize = pixelsPer * this.storageChannels;
    const outSize = pixelsPer * this.channels;
    const out = new Uint8Array(n * outSize);
    if (n === 0) return out;
    const fh = await fs.open(this.pack, 'r');
    try {
      const extract = this.storageChannels !== this.channels;
      const tmp = extract ? Buffer.allocUnsafe(recordSize * Math.min(n, 64)) : null;
      for (let start = 0; start < n; start += 64) {
        const end = Math.min(n, start + 64);
        const jobs: Promise<unknown>[] = [];
        for (let i = start; i < end; i++) {
          const k = indices[i]!;
          if (!(k >= 0 && k < this.count)) throw new RangeError(`example index ${k} out of range 0..${this.count - 1}`);
          const pos = this.slots[k]! * recordSize;
          if (tmp) jobs.push(fh.read(tmp, (i - start) * recordSize, recordSize, pos));
          else jobs.push(fh.read(out, i * outSize, recordSize, pos));
        }
        await Promise.all(jobs);
        if (tmp) {
          for (let i = start; i < end; i++) {
            const src = (i - start) * recordSize;
            const dst = i * outSize;
            for (let p = 0; p < pixelsPer; p++) out[dst + p] = tmp[src + p * 3]!;
          }
        }
      }
    } finally {
      await fh.close();
    }
    return out;
  }
}
