/**
 * The on-disk cache of one dataset + preprocessing, under `dataHome()/datasets/<id>/`:
 *  - `pixels.bin`: fixed-size records (size·size·storageChannels bytes), append-only; a record is
 *    written before the index refers to it, so a cancelled import leaves at most an unreferenced
 *    tail, which the next import truncates.
 *  - `index.json`: columnar entries (path rel to root, size, mtime, slot, crc32, content hash, grey;
 *    failed files keep slot -1 and their reason so they are not retried until they change),
 *    written to a temp file and renamed, together with the pack's signature (size, mtime, inode)
 *    as it stood when the index was written. Files with identical bytes share one record.
 *    Damage (unparseable index, short pack, CRC mismatch) is detected on open and the damaged
 *    records are decoded again: when the pack's signature still matches the index, only its
 *    length is checked on open (a re-import must not read the whole pack) and each record's CRC
 *    is checked when it is read (`PackedExampleSet.read`); when the signature differs (the pack
 *    was written by someone else, or by an import that did not complete), every referenced
 *    record is verified on open.
 *  - `dataset.json`: the summary `listDatasets` shows, written last.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import type { DatasetSummary } from '../common/data.js';
import type { ExampleSet } from './types.js';

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
  /** pixels.bin as it stood when this index was written (absent in older indexes: verify all). */
  pack?: PackSignature;
}

interface PackSignature {
  size: number;
  mtimeMs: number;
  ino: number;
}

export type { DatasetSummary } from '../common/data.js';

export interface LoadedIndex {
  entries: Map<string, CacheEntry>;
  slots: number;
  /** Why (part of) the cache was found damaged, if it was. */
  damage?: string;
  /**
   * True when the pack still matches the signature saved with the index, so only its length was
   * checked; false when every referenced record was verified (and the index should be rewritten).
   */
  trusted: boolean;
}

export const packPath = (dir: string) => path.join(dir, 'pixels.bin');
const indexPath = (dir: string) => path.join(dir, 'index.json');
const summaryPath = (dir: string) => path.join(dir, 'dataset.json');

/**
 * Write a file atomically: temp file in the same folder, then rename; the temp file is removed when
 * either step fails. The engine's caches under `dataHome()` write through it too.
 */
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

/**
 * Load the index and check the pack against it: its length always; the CRC of every referenced
 * record too unless the pack's signature matches the one saved with the index.
 */
export async function loadIndex(dir: string, recordSize: number): Promise<LoadedIndex> {
  let idx: IndexFile;
  try {
    idx = JSON.parse(await fs.readFile(indexPath(dir), 'utf8')) as IndexFile;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { entries: new Map(), slots: 0, trusted: false };
    return { entries: new Map(), slots: 0, damage: 'cache index unreadable; rebuilt', trusted: false };
  }
  const n = idx.rel?.length ?? -1;
  const ok =
    idx.version === INDEX_VERSION &&
    idx.recordSize === recordSize &&
    [idx.size, idx.mtimeMs, idx.slot, idx.crc, idx.hash, idx.grey].every(
      (col) => Array.isArray(col) && col.length === n,
    );
  if (!ok)
    return { entries: new Map(), slots: 0, damage: 'cache index inconsistent; rebuilt', trusted: false };
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
  const st = await fs.stat(packPath(dir)).catch(() => null);
  const sig = idx.pack;
  const trusted =
    st !== null &&
    sig !== undefined &&
    st.size === sig.size &&
    st.mtimeMs === sig.mtimeMs &&
    st.ino === sig.ino &&
    st.size >= idx.slots * recordSize;
  const bad = trusted ? 0 : await verifyPack(dir, recordSize, idx.slots, entries);
  const damage =
    bad > 0
      ? `cache damaged (${bad} record${bad === 1 ? '' : 's'} failed the length/checksum check); rebuilt`
      : undefined;
  return { entries, slots: idx.slots, trusted, ...(damage ? { damage } : {}) };
}

/** Drop entries whose record is missing or fails its CRC. Returns how many entries were dropped. */
async function verifyPack(
  dir: string,
  recordSize: number,
  slots: number,
  entries: Map<string, CacheEntry>,
): Promise<number> {
  // Several entries (files with identical bytes) may share one record.
  const bySlot = new Map<number, CacheEntry[]>();
  for (const e of entries.values()) {
    if (e.slot < 0) continue;
    const list = bySlot.get(e.slot);
    if (list) list.push(e);
    else bySlot.set(e.slot, [e]);
  }
  if (bySlot.size === 0) return 0;
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(packPath(dir), 'r');
  } catch {
    let n = 0;
    for (const list of bySlot.values()) for (const e of list) n += +entries.delete(e.rel);
    return n;
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
        const list = bySlot.get(s);
        if (!list) continue;
        const off = (s - first) * recordSize;
        const ok = (s + 1) * recordSize <= length && off + recordSize <= bytesRead;
        const crc = ok ? zlib.crc32(buf.subarray(off, off + recordSize)) : -1;
        for (const e of list) {
          if (crc !== e.crc) {
            entries.delete(e.rel);
            bad++;
          }
        }
      }
    }
  } finally {
    await fh.close();
  }
  return bad;
}

/** Write the index (call after the pack is closed: it records the pack's signature). */
export async function saveIndex(
  dir: string,
  recordSize: number,
  slots: number,
  entries: Iterable<CacheEntry>,
): Promise<void> {
  const idx: IndexFile = {
    version: INDEX_VERSION,
    recordSize,
    slots,
    rel: [],
    size: [],
    mtimeMs: [],
    slot: [],
    crc: [],
    hash: [],
    grey: [],
    failures: {},
  };
  const st = await fs.stat(packPath(dir)).catch(() => null);
  if (st) idx.pack = { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
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
 * channel is returned (R = G = B there). Every record read is checked against its CRC (cheap next
 * to the read); a mismatch throws: the cache was damaged after the import, import again.
 */
export class PackedExampleSet implements ExampleSet {
  readonly count: number;
  readonly height: number;
  readonly width: number;
  constructor(
    private readonly pack: string,
    private readonly slots: Int32Array,
    private readonly crcs: Uint32Array,
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
        const jobs: Promise<{ bytesRead: number }>[] = [];
        for (let i = start; i < end; i++) {
          const k = indices[i]!;
          if (!(k >= 0 && k < this.count))
            throw new RangeError(`example index ${k} out of range 0..${this.count - 1}`);
          const pos = this.slots[k]! * recordSize;
          if (tmp) jobs.push(fh.read(tmp, (i - start) * recordSize, recordSize, pos));
          else jobs.push(fh.read(out, i * outSize, recordSize, pos));
        }
        const reads = await Promise.all(jobs);
        for (let i = start; i < end; i++) {
          const at = tmp ? (i - start) * recordSize : i * outSize;
          const bytes = reads[i - start]!.bytesRead;
          if (
            bytes !== recordSize ||
            zlib.crc32((tmp ?? out).subarray(at, at + recordSize)) !== this.crcs[indices[i]!]
          ) {
            throw new Error(
              `the pixel cache ${this.pack} is damaged (record of ${this.files[indices[i]!]} fails its checksum): import the folder again`,
            );
          }
        }
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
