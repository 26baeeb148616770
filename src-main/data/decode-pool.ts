/**
 * Brings a dataset's pixel cache up to date with a scan: reuse cached records (path + size +
 * mtime), decode the rest with a small pool of in-flight sharp jobs (files with identical bytes
 * are decoded once and share a record), buffer records and write them to the pack in large
 * chunks, then save the index. A cancelled or failed run leaves nothing new referenced.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { type CacheEntry, type LoadedIndex, packPath, saveIndex } from './cache.js';
import {
  batchKey,
  decodeBatch,
  type DecodedImage,
  decodeBuffer,
  readImageFile,
  readImageFileSync,
} from './decode.js';
import { ImageError } from './errors.js';
import type { ScannedFile } from './scan.js';
import type { Preprocessing } from './types.js';

/** Files up to this size are read synchronously (cheaper than the four thread-pool hops of fs.promises.readFile). */
const SYNC_READ_MAX = 1 << 20;
/** A worker claims up to this many consecutive small files at a time (see `decodeBatch`). */
const CLAIM = 64;
/** Files up to this size may be claimed together (larger ones are claimed one at a time). */
const CLAIM_MAX_BYTES = 64 << 10;
/** Records are buffered and written to the pack in chunks of about this many bytes. */
const WRITE_CHUNK = 4 << 20;

/** Running counts, shared with the progress reporter. */
export interface PoolCounters {
  decoded: number;
  cached: number;
  skipped: number;
}

export interface PoolInput {
  /** The dataset's cache folder. */
  dir: string;
  files: readonly ScannedFile[];
  /** The index as loaded (`loadIndex`). */
  old: LoadedIndex;
  /** Whether the folder had an index before (else a failed run removes the folder). */
  hadIndex: boolean;
  /** How files are decoded for storage (channels: the storage channels). */
  prep: Preprocessing;
  concurrency: number;
  counters: PoolCounters;
  signal?: AbortSignal;
  /** Called when decoding starts and after each claimed run of files. */
  onProgress?: (started: boolean) => void;
}

/** A decoded record: where it went in the pack, plus what the index keeps about it. */
interface Written {
  slot: number;
  crc: number;
  grey: boolean;
}

/** One cache entry per scanned file (same order): a slot, or slot −1 with the reason it failed. */
export async function updateCache(input: PoolInput): Promise<CacheEntry[]> {
  const { dir, files, old, hadIndex, prep, counters, signal, onProgress } = input;
  const recordSize = prep.size * prep.size * prep.channels;

  // Which files can come from the cache?
  const entries: (CacheEntry | undefined)[] = new Array(files.length);
  const todo: number[] = [];
  files.forEach((f, i) => {
    const e = old.entries.get(f.rel);
    if (e && e.size === f.size && e.mtimeMs === f.mtimeMs) {
      entries[i] = e;
      if (e.slot >= 0) counters.cached++;
      else counters.skipped++;
    } else todo.push(i);
  });
  // A re-import with nothing to decode, nothing gone and a pack that matches its index leaves the
  // cache untouched (no pack open, no index rewrite).
  const reused = files.length - todo.length;
  const cacheChanged = todo.length > 0 || reused !== old.entries.size || !old.trusted;

  // Decode the rest into new slots appended after the last referenced one.
  const pack = packPath(dir);
  let nextSlot = old.entries.size > 0 ? old.slots : 0;
  const baseSlots = nextSlot;
  onProgress?.(true);
  if (!cacheChanged) return entries as CacheEntry[];

  const fh = await fs.open(pack, hadIndex && old.slots > 0 ? 'r+' : 'w+');
  // Records are buffered in `chunk` (slots chunkFirst…) and written when it fills. An entry only
  // refers to its slot once the index is saved, after every write has completed.
  const perChunk = Math.max(1, Math.floor(WRITE_CHUNK / recordSize));
  let chunk = Buffer.allocUnsafe(Math.min(perChunk, Math.max(1, todo.length)) * recordSize);
  let chunkFirst = nextSlot;
  const writes: Promise<void>[] = [];
  let writeError: unknown = null;
  const flush = () => {
    const count = nextSlot - chunkFirst;
    if (count === 0) return;
    writes.push(
      fh.write(chunk, 0, count * recordSize, chunkFirst * recordSize).then(
        () => {},
        (e: unknown) => {
          writeError ??= e;
        },
      ),
    );
    chunk = Buffer.allocUnsafe(
      Math.min(perChunk, Math.max(1, todo.length - (nextSlot - baseSlots))) * recordSize,
    );
    chunkFirst = nextSlot;
  };
  const store = (img: DecodedImage): Written => {
    const slot = nextSlot++;
    chunk.set(img.pixels.subarray(0, recordSize), (slot - chunkFirst) * recordSize);
    const written = { slot, crc: zlib.crc32(img.pixels), grey: img.grey };
    if (nextSlot - chunkFirst === chunk.length / recordSize) flush();
    return written;
  };
  // Identical bytes (and extension: TGA is recognised by it) decode to identical pixels: decode
  // the first such file, let the others share its record (or its failure).
  const byContent = new Map<string, Promise<Written>>();
  const prevConcurrency = sharp.concurrency();
  sharp.concurrency(1);
  try {
    await fh.truncate(baseSlots * recordSize);
    let cursor = 0;
    // Claim a run of small files (or one large file), read and hash them, start a decode for
    // each new content (batched with `decodeBatch` where the pipeline allows), then record them.
    const claim = (): number[] => {
      const first = todo[cursor++]!;
      const run = [first];
      if (files[first]!.size > CLAIM_MAX_BYTES) return run;
      while (run.length < CLAIM && cursor < todo.length && files[todo[cursor]!]!.size <= CLAIM_MAX_BYTES)
        run.push(todo[cursor++]!);
      return run;
    };
    const worker = async () => {
      while (cursor < todo.length) {
        signal?.throwIfAborted();
        if (writeError) throw writeError;
        const run = claim();
        const jobs: { i: number; hash: string; job: Promise<Written> | ImageError }[] = [];
        const batches = new Map<
          number,
          { file: string; buf: Buffer; settle: (r: DecodedImage | ImageError | Error) => void }[]
        >();
        try {
          for (const i of run) {
            const f = files[i]!;
            let hash = '';
            try {
              const buf = f.size <= SYNC_READ_MAX ? readImageFileSync(f.path) : await readImageFile(f.path);
              hash = crypto.createHash('sha1').update(buf).digest('hex');
              const key = `${hash}${path.extname(f.path).toLowerCase()}`;
              let job = byContent.get(key);
              if (!job) {
                const bk = run.length > 1 ? batchKey(buf, prep) : null;
                if (bk === null) job = decodeBuffer(f.path, buf, prep).then(store);
                else {
                  let batch = batches.get(bk);
                  if (!batch) batches.set(bk, (batch = []));
                  const list = batch;
                  job = new Promise<DecodedImage>((resolve, reject) => {
                    list.push({
                      file: f.path,
                      buf,
                      settle: (r) => (r instanceof Error ? reject(r) : resolve(r)),
                    });
                  }).then(store);
                }
                job.catch(() => {}); // awaited below; keep an early rejection from counting as unhandled
                byContent.set(key, job);
              }
              jobs.push({ i, hash, job });
            } catch (e) {
              if (!(e instanceof ImageError)) throw e;
              jobs.push({ i, hash, job: e });
            }
          }
          for (const batch of batches.values()) {
            const results = await decodeBatch(batch, prep);
            batch.forEach((b, k) => b.settle(results[k]!));
          }
        } finally {
          // Whatever happened, settle every waiter (other workers may share these contents);
          // settling twice is a no-op.
          for (const batch of batches.values()) for (const b of batch) b.settle(new Error('import failed'));
        }
        for (const { i, hash, job } of jobs) {
          const f = files[i]!;
          const base = { rel: f.rel, size: f.size, mtimeMs: f.mtimeMs, hash };
          try {
            if (job instanceof ImageError) throw job;
            const w = await job;
            entries[i] = { ...base, slot: w.slot, crc: w.crc, grey: w.grey };
            counters.decoded++;
          } catch (e) {
            if (!(e instanceof ImageError)) throw e;
            entries[i] = { ...base, slot: -1, crc: 0, grey: false, reason: e.reason, message: e.message };
            counters.skipped++;
          }
        }
        onProgress?.(false);
      }
    };
    // allSettled: no decode is still running (and storing into the chunk) when we go on.
    const results = await Promise.allSettled(
      Array.from({ length: Math.min(input.concurrency, todo.length) }, worker),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    signal?.throwIfAborted();
    flush();
    await Promise.all(writes);
    if (writeError) throw writeError;
  } catch (e) {
    // Cancelled or failed: nothing new is referenced; drop the unreferenced tail (or the whole
    // entry) once every in-flight write has finished.
    await Promise.all(writes);
    await fh.close().catch(() => {});
    if (hadIndex) await fs.truncate(pack, baseSlots * recordSize).catch(() => {});
    else await fs.rm(dir, { recursive: true, force: true });
    throw e;
  } finally {
    sharp.concurrency(prevConcurrency);
  }
  await fh.close();
  await saveIndex(
    dir,
    recordSize,
    nextSlot,
    entries.filter((e): e is CacheEntry => e !== undefined),
  );
  return entries as CacheEntry[];
}
