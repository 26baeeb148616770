/**
 * importDataset: scan → choose preprocessing → reuse cached records (path + size + mtime) →
 * decode the rest with a small pool of in-flight sharp jobs (files with identical bytes are
 * decoded once and share a record), buffering records and writing them to the pack in large
 * chunks → splits, duplicates, warnings → ExampleSets over the pack.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';
import {
  type CacheEntry,
  type DatasetSummary,
  loadIndex,
  packPath,
  PackedExampleSet,
  readSummary,
  saveIndex,
  saveSummary,
} from './cache.js';
import {
  batchKey,
  DEFAULT_BACKGROUND,
  decodeBatch,
  type DecodedImage,
  decodeBuffer,
  readImageFile,
  readImageFileSync,
} from './decode.js';
import type { ImportProgress, ImportReport } from '../common/data.js';
import { ImageError } from './errors.js';
import { dataHome } from './home.js';
import { scanFolder, type ScanResult, type SplitName } from './scan.js';
import { assignSplits } from './split.js';
import type { ExampleSet, Preprocessing } from './types.js';

export interface ImportOptions {
  /** Square model input side; default chosen from the data (see `chooseImageSize`). */
  imageSize?: number;
  /** Default 'cover'. */
  fit?: 'cover' | 'contain';
  /** Default 'auto': grey only if every image is grey. */
  channels?: 1 | 3 | 'auto';
  /** Default 0.1 (ignored for classes given a val folder). */
  valFraction?: number;
  /** Default 0 (ignored when splits are given). */
  testFraction?: number;
  /** Split seed, default 0. */
  seed?: number;
  signal?: AbortSignal;
  onProgress?: (p: ImportProgress) => void;
  /** In-flight decodes, default 6 (each runs single-threaded in libuv's thread pool). */
  concurrency?: number;
}

export type { ImportProgress, ImportReport };

export interface ImportedDataset {
  id: string;
  root: string;
  classes: string[];
  preprocessing: Preprocessing;
  splits: { train: ExampleSet; val: ExampleSet; test: ExampleSet };
  report: ImportReport;
}

const datasetsDir = () => path.join(dataHome(), 'datasets');

/** Files up to this size are read synchronously (cheaper than the four thread-pool hops of fs.promises.readFile). */
const SYNC_READ_MAX = 1 << 20;
/** A worker claims up to this many consecutive small files at a time (see `decodeBatch`). */
const CLAIM = 64;
/** Files up to this size may be claimed together (larger ones are claimed one at a time). */
const CLAIM_MAX_BYTES = 64 << 10;
/** Records are buffered and written to the pack in chunks of about this many bytes. */
const WRITE_CHUNK = 4 << 20;

/** A decoded record: where it went in the pack, plus what the index keeps about it. */
interface Written {
  slot: number;
  crc: number;
  grey: boolean;
}

/**
 * Default input size: the median shorter side of (up to 64, evenly spread) source images,
 * clamped to [28, 64] and rounded to a multiple of 4 — MNIST → 28, CIFAR-10 → 32, photos → 64.
 */
export async function chooseImageSize(files: readonly { path: string }[]): Promise<number> {
  const n = Math.min(64, files.length);
  const sides: number[] = [];
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const f = files[Math.floor((i * files.length) / n)]!;
      try {
        const m = await sharp(f.path).metadata();
        if (m.width && m.height) sides.push(Math.min(m.width, m.height));
      } catch {
        // unreadable or a fallback format: ignore for the estimate
      }
    }),
  );
  sides.sort((a, b) => a - b);
  const median = sides.length ? sides[Math.floor(sides.length / 2)]! : 32;
  return Math.round(Math.min(64, Math.max(28, median)) / 4) * 4;
}

function datasetId(root: string, prep: Omit<Preprocessing, 'channels'>, storageChannels: 1 | 3): string {
  const key = JSON.stringify([root, prep.size, prep.fit, storageChannels, prep.background]);
  return crypto.createHash('sha256').update(key).digest('hex').slice(0, 16);
}

export async function importDataset(root: string, opts: ImportOptions = {}): Promise<ImportedDataset> {
  const t0 = performance.now();
  const { signal, onProgress } = opts;
  const valFraction = opts.valFraction ?? 0.1;
  const testFraction = opts.testFraction ?? 0;
  if (!(valFraction >= 0 && testFraction >= 0 && valFraction + testFraction < 1)) {
    throw new RangeError('valFraction and testFraction must be ≥ 0 and sum to less than 1');
  }
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? 6));
  const counters = { scanned: 0, decoded: 0, cached: 0, skipped: 0, total: 0 };
  let decodeStart = 0;
  let lastEmit = 0;
  const emit = (phase: ImportProgress['phase'], force = false) => {
    if (!onProgress) return;
    const now = performance.now();
    if (!force && now - lastEmit < 100) return;
    lastEmit = now;
    const done = counters.decoded + counters.cached + counters.skipped;
    const secs = decodeStart ? (now - decodeStart) / 1000 : 0;
    const rate = secs > 0 ? done / secs : 0;
    onProgress({
      phase,
      ...counters,
      imagesPerSecond: rate,
      etaSeconds: rate > 0 ? Math.max(0, counters.total - done) / rate : 0,
    });
  };

  const scan: ScanResult = await scanFolder(root, {
    ...(signal ? { signal } : {}),
    onProgress: (n) => {
      counters.scanned = n;
      emit('scan');
    },
  });
  const realRoot = await fs.realpath(scan.root);
  counters.total = scan.files.length;
  emit('scan', true);

  const size = opts.imageSize ?? (await chooseImageSize(scan.files));
  if (!Number.isInteger(size) || size < 1 || size > 1024)
    throw new RangeError(`image size must be an integer in 1..1024, got ${size}`);
  const fit = opts.fit ?? 'cover';
  const wantChannels = opts.channels ?? 'auto';
  const storageChannels: 1 | 3 = wantChannels === 1 ? 1 : 3;
  const base = { size, fit, background: { ...DEFAULT_BACKGROUND } };
  const decodePrep: Preprocessing = { ...base, channels: storageChannels };
  const recordSize = size * size * storageChannels;
  const id = datasetId(realRoot, base, storageChannels);
  const dir = path.join(datasetsDir(), id);
  await fs.mkdir(dir, { recursive: true });
  // One import of a dataset at a time, across processes too (two `rank1 train` runs started
  // together would otherwise race on the same pack and index).
  return withDatasetLock(dir, signal, async () => {
    const hadIndex = await fs.stat(path.join(dir, 'index.json')).then(
      () => true,
      () => false,
    );

    const old = await loadIndex(dir, recordSize);
    const warnings: string[] = [];
    if (old.damage) warnings.push(old.damage);

    // Which files can come from the cache?
    const entries: (CacheEntry | undefined)[] = new Array(scan.files.length);
    const todo: number[] = [];
    scan.files.forEach((f, i) => {
      const e = old.entries.get(f.rel);
      if (e && e.size === f.size && e.mtimeMs === f.mtimeMs) {
        entries[i] = e;
        if (e.slot >= 0) counters.cached++;
        else counters.skipped++;
      } else todo.push(i);
    });
    // A re-import with nothing to decode, nothing gone and a pack that matches its index leaves the
    // cache untouched (no pack open, no index rewrite).
    const reused = scan.files.length - todo.length;
    const cacheChanged = todo.length > 0 || reused !== old.entries.size || !old.trusted;

    // Decode the rest into new slots appended after the last referenced one.
    const pack = packPath(dir);
    let nextSlot = old.entries.size > 0 ? old.slots : 0;
    const baseSlots = nextSlot;
    decodeStart = performance.now();
    emit('decode', true);
    if (cacheChanged) {
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
          if (scan.files[first]!.size > CLAIM_MAX_BYTES) return run;
          while (
            run.length < CLAIM &&
            cursor < todo.length &&
            scan.files[todo[cursor]!]!.size <= CLAIM_MAX_BYTES
          )
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
                const f = scan.files[i]!;
                let hash = '';
                try {
                  const buf =
                    f.size <= SYNC_READ_MAX ? readImageFileSync(f.path) : await readImageFile(f.path);
                  hash = crypto.createHash('sha1').update(buf).digest('hex');
                  const key = `${hash}${path.extname(f.path).toLowerCase()}`;
                  let job = byContent.get(key);
                  if (!job) {
                    const bk = run.length > 1 ? batchKey(buf, decodePrep) : null;
                    if (bk === null) job = decodeBuffer(f.path, buf, decodePrep).then(store);
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
                const results = await decodeBatch(batch, decodePrep);
                batch.forEach((b, k) => b.settle(results[k]!));
              }
            } finally {
              // Whatever happened, settle every waiter (other workers may share these contents);
              // settling twice is a no-op.
              for (const batch of batches.values())
                for (const b of batch) b.settle(new Error('import failed'));
            }
            for (const { i, hash, job } of jobs) {
              const f = scan.files[i]!;
              try {
                if (job instanceof ImageError) throw job;
                const w = await job;
                entries[i] = {
                  rel: f.rel,
                  size: f.size,
                  mtimeMs: f.mtimeMs,
                  slot: w.slot,
                  crc: w.crc,
                  hash,
                  grey: w.grey,
                };
                counters.decoded++;
              } catch (e) {
                if (!(e instanceof ImageError)) throw e;
                entries[i] = {
                  rel: f.rel,
                  size: f.size,
                  mtimeMs: f.mtimeMs,
                  slot: -1,
                  crc: 0,
                  hash,
                  grey: false,
                  reason: e.reason,
                  message: e.message,
                };
                counters.skipped++;
              }
            }
            emit('decode');
          }
        };
        // allSettled: no decode is still running (and storing into the chunk) when we go on.
        const results = await Promise.allSettled(
          Array.from({ length: Math.min(concurrency, todo.length) }, worker),
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
    }

    // Assemble the dataset from the decoded/cached entries.
    const skipped = [...scan.skipped];
    const kept: { file: (typeof scan.files)[number]; entry: CacheEntry }[] = [];
    scan.files.forEach((file, i) => {
      const entry = entries[i]!;
      if (entry.slot < 0)
        skipped.push({
          file: file.path,
          reason: entry.reason ?? 'corrupt',
          ...(entry.message ? { message: entry.message } : {}),
        });
      else kept.push({ file, entry });
    });
    const channels: 1 | 3 =
      wantChannels === 'auto' ? (kept.length > 0 && kept.every((k) => k.entry.grey) ? 1 : 3) : wantChannels;
    const preprocessing: Preprocessing = { ...base, channels };
    const classes = [...new Set(kept.map((k) => k.file.label))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const classIndex = new Map(classes.map((c, i) => [c, i]));
    const splitOf = assignSplits(
      kept.map((k) => ({ label: k.file.label, ...(k.file.split ? { split: k.file.split } : {}) })),
      { valFraction, testFraction, seed: opts.seed ?? 0 },
    );

    const report: ImportReport = {
      classes: Object.fromEntries(classes.map((c) => [c, 0])),
      splits: { train: {}, val: {}, test: {} },
      skipped,
      duplicates: [],
      warnings,
      images: kept.length,
      seconds: 0,
      imagesPerSecond: 0,
      givenSplits: scan.givenSplits,
      decoded: counters.decoded,
      cached: counters.cached,
    };
    for (const s of ['train', 'val', 'test'] as const) for (const c of classes) report.splits[s][c] = 0;
    kept.forEach((k, i) => {
      report.classes[k.file.label]!++;
      report.splits[splitOf[i]!][k.file.label]!++;
    });

    const byHash = new Map<string, number[]>();
    kept.forEach((k, i) => {
      const list = byHash.get(k.entry.hash);
      if (list) list.push(i);
      else byHash.set(k.entry.hash, [i]);
    });
    for (const [hash, list] of byHash) {
      if (list.length < 2) continue;
      const labels = new Set(list.map((i) => kept[i]!.file.label));
      report.duplicates.push({
        hash,
        files: list.map((i) => kept[i]!.file.path),
        crossClass: labels.size > 1,
      });
    }
    const conflicts = report.duplicates.filter((d) => d.crossClass).length;
    if (conflicts)
      warnings.push(
        `${conflicts} image${conflicts === 1 ? ' appears' : 's appear'} in more than one class (label conflict); see duplicates`,
      );
    for (const c of scan.emptyClasses) warnings.push(`class "${c}" has no images and is ignored`);
    for (const c of classes) {
      const n = report.classes[c]!;
      if (n < 2) warnings.push(`class "${c}" has ${n} image: too few to train on (need at least 2)`);
      else if (n < 10) warnings.push(`class "${c}" has only ${n} images (fewer than 10)`);
    }
    if (classes.length === 1) warnings.push('only one class found: a classifier needs at least two');

    const makeSet = (s: SplitName): ExampleSet => {
      const idx = kept.map((_, i) => i).filter((i) => splitOf[i] === s);
      return new PackedExampleSet(
        pack,
        Int32Array.from(idx, (i) => kept[i]!.entry.slot),
        Uint32Array.from(idx, (i) => kept[i]!.entry.crc),
        Int32Array.from(idx, (i) => classIndex.get(kept[i]!.file.label)!),
        idx.map((i) => kept[i]!.file.path),
        size,
        storageChannels,
        channels,
      );
    };
    const splits = { train: makeSet('train'), val: makeSet('val'), test: makeSet('test') };

    report.seconds = (performance.now() - t0) / 1000;
    report.imagesPerSecond = report.seconds > 0 ? scan.files.length / report.seconds : 0;
    const summary: DatasetSummary = {
      id,
      root: realRoot,
      images: kept.length,
      classes,
      preprocessing,
      importedAt: new Date().toISOString(),
    };
    await saveSummary(dir, summary);
    emit('done', true);
    return { id, root: realRoot, classes, preprocessing, splits, report };
  });
}

/** Datasets in the cache folder (those whose import completed). */
export async function listDatasets(): Promise<DatasetSummary[]> {
  let names: string[];
  try {
    names = await fs.readdir(datasetsDir());
  } catch {
    return [];
  }
  const all = await Promise.all(names.map((n) => readSummary(path.join(datasetsDir(), n))));
  return all
    .filter((s): s is DatasetSummary => s !== null)
    .sort((a, b) => (a.importedAt < b.importedAt ? 1 : -1));
}

/** Delete a dataset's cache (pixels, index, summary). Unknown ids are ignored. */
export async function removeDataset(id: string): Promise<void> {
  if (!/^[0-9a-f]{16}$/.test(id)) throw new Error(`not a dataset id: ${id}`);
  await fs.rm(path.join(datasetsDir(), id), { recursive: true, force: true });
}

const inProcess = new Map<string, Promise<unknown>>();

/**
 * Run `fn` holding the dataset's lock: a queue within this process, and `<dir>/.lock` (created
 * exclusively, holding our pid) across processes; a lock left by a dead process is taken over.
 */
async function withDatasetLock<T>(
  dir: string,
  signal: AbortSignal | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  const prev = inProcess.get(dir) ?? Promise.resolve();
  const run = prev
    .catch(() => {})
    .then(async () => {
      const lock = path.join(dir, '.lock');
      for (;;) {
        try {
          await fs.writeFile(lock, String(process.pid), { flag: 'wx' });
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
          const pid = Number(await fs.readFile(lock, 'utf8').catch(() => ''));
          let alive = false;
          if (pid > 0 && pid !== process.pid) {
            try {
              process.kill(pid, 0);
              alive = true;
            } catch (k) {
              alive = (k as NodeJS.ErrnoException).code === 'EPERM';
            }
          }
          if (!alive) {
            await fs.rm(lock, { force: true });
            continue;
          }
          signal?.throwIfAborted();
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      try {
        return await fn();
      } finally {
        await fs.rm(lock, { force: true });
      }
    });
  inProcess.set(dir, run);
  try {
    return await run;
  } finally {
    if (inProcess.get(dir) === run) inProcess.delete(dir);
  }
}
