/**
 * importDataset: scan → refuse a folder that cannot be a training set → choose preprocessing →
 * (holding the dataset's lock) bring the pixel cache up to date → assemble classes, splits and
 * the report → ExampleSets over the pack. The parts live beside it: `lock.ts`, `decode-pool.ts`,
 * `assemble.ts`, `catalog.ts`; the report types in `report.ts`.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { type DatasetSummary, loadIndex, packPath, saveSummary } from './cache.js';
import { DEFAULT_SPLIT_SEED, DEFAULT_TEST_FRACTION, DEFAULT_VAL_FRACTION } from '../common/index.js';
import { assemble } from './assemble.js';
import { datasetId, datasetsDir } from './catalog.js';
import { DEFAULT_BACKGROUND } from './decode.js';
import { checkRoom, type FreeSpace } from './disk-space.js';
import { type PoolCounters, updateCache } from './decode-pool.js';
import { withDatasetLock } from './lock.js';
import { type ImportProgress, ImportRefusedError, type ImportReport } from './report.js';
import { scanFolder, type ScanResult } from './scan.js';
import type { ExampleSet, Preprocessing } from './types.js';

export { listDatasets, removeDataset } from './catalog.js';
export { type ImportProgress, ImportRefusedError, type ImportReport } from './report.js';

export interface ImportOptions {
  /** Square model input side; default chosen from the data (see `chooseImageSize`). */
  imageSize?: number;
  /** Default 'cover'. */
  fit?: 'cover' | 'contain';
  /** Default 'auto': grey only if every image is grey. */
  channels?: 1 | 3 | 'auto';
  /** Default DEFAULT_VAL_FRACTION (ignored for classes given a val folder). */
  valFraction?: number;
  /** Default DEFAULT_TEST_FRACTION (ignored when splits are given). */
  testFraction?: number;
  /** Split seed, default DEFAULT_SPLIT_SEED. */
  seed?: number;
  /**
   * Classes a folder must have, default 2 (a training set). Evaluation and OOD folders may pass
   * 1. Fewer is refused with `ImportRefusedError` before anything is imported.
   */
  minClasses?: 1 | 2;
  signal?: AbortSignal;
  onProgress?: (p: ImportProgress) => void;
  /** In-flight decodes, default 6 (each runs single-threaded in libuv's thread pool). */
  concurrency?: number;
  /** Free bytes on the datasets folder's disk, checked before the pixel cache is written; the real disk's by default. */
  freeSpace?: FreeSpace;
}

export interface ImportedDataset {
  id: string;
  root: string;
  classes: string[];
  preprocessing: Preprocessing;
  splits: { train: ExampleSet; val: ExampleSet; test: ExampleSet };
  report: ImportReport;
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

/** Refuses, in one line, a scanned folder that cannot become a dataset (before any work). */
function refuseBeforeImport(scan: ScanResult, minClasses: number): void {
  if (scan.files.length === 0) {
    const links = scan.skipped.filter((s) => s.reason === 'outside-link').length;
    const others = scan.skipped.length - links;
    const seen = [
      others ? `${others} other file${others === 1 ? '' : 's'}` : '',
      links ? `${links} link${links === 1 ? '' : 's'} leading outside it, not followed` : '',
    ].filter(Boolean);
    throw new ImportRefusedError(
      'no-images',
      scan.root,
      `no images in ${scan.root}${seen.length ? ` (${seen.join('; ')})` : ''}: ` +
        "put each class's images in its own sub-folder (e.g. cats/, dogs/)",
    );
  }
  if (scan.classes.length < minClasses)
    throw new ImportRefusedError(
      'one-class',
      scan.root,
      `only one class ("${scan.classes[0]}") in ${scan.root}: a classifier needs at least two class folders`,
    );
}

/** Refuses a folder whose images turned out unreadable, or left fewer classes than needed. */
function refuseAfterDecode(
  root: string,
  imageFiles: number,
  classes: string[],
  report: ImportReport,
  minClasses: number,
): void {
  if (report.images === 0) {
    const first = report.skipped.find((s) => s.message && s.reason !== 'outside-class-folder');
    throw new ImportRefusedError(
      'no-readable-images',
      root,
      `none of the ${imageFiles} image files could be read in ${root}` +
        (first ? ` (e.g. ${path.basename(first.file)}: ${first.message})` : ''),
      report,
    );
  }
  if (classes.length < minClasses)
    throw new ImportRefusedError(
      'one-class',
      root,
      `only one class ("${classes[0]}") has readable images in ${root}: a classifier needs at least two`,
      report,
    );
}

export async function importDataset(root: string, opts: ImportOptions = {}): Promise<ImportedDataset> {
  const t0 = performance.now();
  const { signal, onProgress } = opts;
  const valFraction = opts.valFraction ?? DEFAULT_VAL_FRACTION;
  const testFraction = opts.testFraction ?? DEFAULT_TEST_FRACTION;
  if (!(valFraction >= 0 && testFraction >= 0 && valFraction + testFraction < 1)) {
    throw new RangeError('valFraction and testFraction must be ≥ 0 and sum to less than 1');
  }
  const minClasses = opts.minClasses ?? 2;
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? 6));
  const counters: PoolCounters & { scanned: number; total: number } = {
    scanned: 0,
    decoded: 0,
    cached: 0,
    skipped: 0,
    total: 0,
  };
  let decodeStart = 0;
  let lastEmit = 0;
  const emit = (
    phase: ImportProgress['phase'],
    force = false,
    message?: string,
    final?: Pick<ImportProgress, 'images' | 'skipped' | 'warnings'>,
  ) => {
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
      ...(message ? { message } : {}),
      ...final,
    });
  };

  const scan = await scanFolder(root, {
    ...(signal ? { signal } : {}),
    onProgress: (n) => {
      counters.scanned = n;
      emit('scan');
    },
  });
  const realRoot = await fs.realpath(scan.root);
  counters.total = scan.files.length;
  emit('scan', true);
  refuseBeforeImport(scan, minClasses);

  const size = opts.imageSize ?? (await chooseImageSize(scan.files));
  if (!Number.isInteger(size) || size < 1 || size > 1024)
    throw new RangeError(`image size must be an integer in 1..1024, got ${size}`);
  const fit = opts.fit ?? 'cover';
  const wantChannels = opts.channels ?? 'auto';
  const storageChannels: 1 | 3 = wantChannels === 1 ? 1 : 3;
  const base = { size, fit, background: { ...DEFAULT_BACKGROUND } };
  const recordSize = size * size * storageChannels;
  const id = datasetId(realRoot, base, storageChannels);
  const dir = path.join(datasetsDir(), id);
  // Room for the pixel cache (data/disk-space.ts), before its folder is made: a record for each
  // image an earlier import of this dataset cannot lend one (new or changed files; the pack keeps
  // the records it has). Read again under the lock below; this look only sizes the check.
  const prior = await loadIndex(dir, recordSize);
  const reusable = scan.files.filter((f) => {
    const e = prior.entries.get(f.rel);
    return e !== undefined && e.size === f.size && e.mtimeMs === f.mtimeMs;
  }).length;
  await checkRoom(
    dir,
    (scan.files.length - reusable) * recordSize,
    { label: realRoot, what: 'the pixel cache', place: 'the datasets folder' },
    opts.freeSpace,
  );
  await fs.mkdir(dir, { recursive: true });
  // One import of a dataset at a time, across processes too (two `rank1 train` runs started
  // together would otherwise race on the same pack and index).
  const lockOpts = { ...(signal ? { signal } : {}), onWait: (m: string) => emit('wait', true, m) };
  return withDatasetLock(dir, lockOpts, async () => {
    const hadIndex = await fs.stat(path.join(dir, 'index.json')).then(
      () => true,
      () => false,
    );
    const old = await loadIndex(dir, recordSize);
    const warnings: string[] = [];
    if (old.damage) warnings.push(old.damage);

    const entries = await updateCache({
      dir,
      files: scan.files,
      old,
      hadIndex,
      prep: { ...base, channels: storageChannels },
      concurrency,
      counters,
      ...(signal ? { signal } : {}),
      onProgress: (started) => {
        if (started) decodeStart = performance.now();
        emit('decode', started);
      },
    });

    const pack = packPath(dir);
    const a = assemble({
      scan,
      entries,
      pack,
      base,
      storageChannels,
      wantChannels,
      valFraction,
      testFraction,
      seed: opts.seed ?? DEFAULT_SPLIT_SEED,
      warnings,
    });
    const seconds = (performance.now() - t0) / 1000;
    const report: ImportReport = {
      ...a.report,
      seconds,
      imagesPerSecond: seconds > 0 ? scan.files.length / seconds : 0,
      decoded: counters.decoded,
      cached: counters.cached,
    };
    refuseAfterDecode(realRoot, scan.files.length, a.classes, report, minClasses);
    const summary: DatasetSummary = {
      id,
      root: realRoot,
      images: report.images,
      classes: a.classes,
      preprocessing: a.preprocessing,
      importedAt: new Date().toISOString(),
    };
    await saveSummary(dir, summary);
    emit('done', true, undefined, {
      images: report.images,
      skipped: report.skipped.length,
      warnings: report.warnings,
    });
    return {
      id,
      root: realRoot,
      classes: a.classes,
      preprocessing: a.preprocessing,
      splits: a.splits,
      report,
    };
  });
}
