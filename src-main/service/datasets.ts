/**
 * Datasets as the service sees them: the ones imported this session (their example sets are
 * reused), the data room's catalog (granted again in later sessions), resolution of a dataset
 * reference (id or folder) with a given preprocessing, and the `datasets.*` operations.
 */
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import {
  ServiceError,
  type DatasetSummary,
  type JobStarted,
  type Results,
  type ScanSummary,
  type Settings,
  type ParsedArgs,
} from '../contract.js';
import type { Preprocessing, ScanResult } from '../data/index.js';
import type { FreeSpace } from '../data/disk-space.js';
import { IMAGE_EXTENSIONS } from '../data/formats.js';
import { StoreError, type PathGrants, type SettingsStore } from '../store/index.js';
import type { ServiceContext } from './context.js';
import { abortError } from './errors.js';
import type { DataApi, DatasetImportOptions, ImportedDataset } from './ports.js';

/** A file found by `walkImages`; `refused` says why it is listed but never read. */
export interface WalkedImage {
  file: string;
  refused?: string;
}

/** The one line a link leaving the grants is reported with. */
const OUTSIDE_GRANTS = 'link leads outside the folders this app may read; not read';

export class DatasetCatalog {
  /** Datasets imported in this session, by id (their ExampleSets are reusable). */
  private readonly imported = new Map<string, ImportedDataset>();

  constructor(
    private readonly grants: PathGrants,
    private readonly settings: SettingsStore<Settings>,
    private readonly clock: () => number,
    private readonly data: () => Promise<DataApi>,
    /** The disk's free space as the pixel cache's check sees it (ServiceOptions.freeSpace). */
    private readonly freeSpace?: FreeSpace,
  ) {}

  /** A dataset imported in this session. */
  get(id: string): ImportedDataset | undefined {
    return this.imported.get(id);
  }

  has(id: string): boolean {
    return this.imported.has(id);
  }

  forget(id: string): void {
    this.imported.delete(id);
  }

  async list(): Promise<DatasetSummary[]> {
    const data = await this.data();
    const out: DatasetSummary[] = [];
    for (const s of await data.listDatasets()) {
      // Registered datasets were granted when imported; keep their files reachable in later sessions.
      try {
        this.grants.grant(s.root);
      } catch {
        // The folder is gone; the summary still lists it so the user can remove it.
      }
      out.push(s);
    }
    return out;
  }

  private importOptions(o: Partial<DatasetImportOptions>, settings: Settings): DatasetImportOptions {
    const out: DatasetImportOptions = {
      fit: o.fit ?? settings.defaultFit,
      ...(this.freeSpace ? { freeSpace: this.freeSpace } : {}),
    };
    for (const k of [
      'imageSize',
      'channels',
      'valFraction',
      'testFraction',
      'seed',
      'minClasses',
      'signal',
      'onProgress',
    ] as const) {
      if (o[k] !== undefined) (out as Record<string, unknown>)[k] = o[k];
    }
    return out;
  }

  async importFolder(root: string, o: Partial<DatasetImportOptions>): Promise<ImportedDataset> {
    const data = await this.data();
    const ds = await data.importDataset(root, this.importOptions(o, await this.settings.get()));
    this.imported.set(ds.id, ds);
    return ds;
  }

  /**
   * A dataset by id (from datasets.list) or by folder path (imported first). With `prep`, the
   * result has that preprocessing (re-imported from the root when it differs).
   */
  async resolve(
    ref: string,
    field: string,
    o: Partial<DatasetImportOptions> & { prep?: Preprocessing },
  ): Promise<ImportedDataset> {
    const { prep, ...rest } = o;
    const wanted: Partial<DatasetImportOptions> = prep
      ? { ...rest, imageSize: prep.size, fit: prep.fit, channels: prep.channels }
      : rest;
    const same = (p: Preprocessing) =>
      !prep || (p.size === prep.size && p.fit === prep.fit && p.channels === prep.channels);
    const known = this.imported.get(ref);
    if (known && same(known.preprocessing)) return known;
    const listed = /^[A-Za-z0-9._-]+$/.test(ref) ? (await this.list()).find((d) => d.id === ref) : undefined;
    if (listed) {
      const base: Partial<DatasetImportOptions> = prep
        ? wanted
        : {
            imageSize: listed.preprocessing.size,
            fit: listed.preprocessing.fit,
            channels: listed.preprocessing.channels,
            ...rest,
          };
      return this.importFolder(listed.root, base);
    }
    const real = this.grants.check(ref, field);
    const stat = await fs.stat(real).catch(() => undefined);
    if (!stat?.isDirectory()) {
      throw new ServiceError(
        'not-found',
        /[\\/]/.test(ref)
          ? `"${field}": no folder at ${real}.`
          : `"${field}": no dataset with id "${ref.slice(0, 200)}" and no folder at that path; import a folder first.`,
        field,
      );
    }
    return this.importFolder(real, wanted);
  }

  /**
   * Image files under a folder, recursively, sorted. A link leaving the grants (to an image or a
   * folder) is never read but listed with `refused`, so a prediction names it instead of dropping
   * it silently.
   */
  async walkImages(root: string, signal?: AbortSignal): Promise<WalkedImage[]> {
    const out: WalkedImage[] = [];
    const visit = async (dir: string): Promise<void> => {
      if (signal?.aborted) throw abortError();
      const entries = await fs.readdir(dir, { withFileTypes: true });
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const e of entries) {
        if (e.name.startsWith('.')) continue;
        const full = nodePath.join(dir, e.name);
        const image = IMAGE_EXTENSIONS.has(nodePath.extname(e.name).toLowerCase());
        if (e.isDirectory()) await visit(full);
        else if (e.isFile()) {
          if (image) out.push({ file: full });
        } else if (e.isSymbolicLink()) {
          if (this.grants.isAllowed(full)) {
            if (image) out.push({ file: full });
          } else if (image || (await fs.stat(full).catch(() => undefined))?.isDirectory())
            out.push({ file: full, refused: OUTSIDE_GRANTS });
        }
      }
    };
    await visit(root);
    return out;
  }

  /** A small JPEG of an image file or of dropped bytes (the data room's `thumbnail`), for the UI. */
  async thumbnailOf(
    file: string | { name: string; bytes: Buffer },
    size: number,
  ): Promise<{ mime: string; base64: string }> {
    const data = await this.data();
    return { mime: 'image/jpeg', base64: (await data.thumbnail(file, size)).toString('base64') };
  }

  /**
   * `grants.check`, but a path inside a dataset imported in an earlier session is allowed too
   * (its folder was granted then; the data room's list is trusted).
   */
  async checkPath(p: string, field: string): Promise<string> {
    try {
      return this.grants.check(p, field);
    } catch (e) {
      if (!(e instanceof StoreError) || e.code !== 'forbidden') throw e;
      await this.list().catch(() => []);
      return this.grants.check(p, field);
    }
  }

  /** A dataset by id: imported this session, else re-imported from the catalog's root. */
  async byId(id: string): Promise<ImportedDataset> {
    const known = this.imported.get(id);
    if (known) return known;
    const listed = (await this.list()).find((d) => d.id === id);
    if (!listed)
      throw new ServiceError(
        'not-found',
        `No dataset "${id}"; datasets.list shows the datasets you have.`,
        'id',
      );
    const p = listed.preprocessing;
    return this.importFolder(listed.root, { imageSize: p.size, fit: p.fit, channels: p.channels });
  }

  summary(ds: ImportedDataset): DatasetSummary {
    return {
      id: ds.id,
      root: ds.root,
      images: ds.splits.train.count + ds.splits.val.count + ds.splits.test.count,
      classes: ds.classes,
      preprocessing: ds.preprocessing,
      importedAt: new Date(this.clock()).toISOString(),
      report: ds.report,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Operations

export async function scanDataset(
  ctx: ServiceContext,
  { path }: ParsedArgs<'datasets.scan'>,
): Promise<ScanSummary> {
  const real = ctx.grants.check(path, 'path');
  // A typo said as such, like the other folder fields (the scanner's own error says only "ENOENT").
  if (!(await fs.stat(real).catch(() => undefined)))
    throw new ServiceError('not-found', `"path": no folder at ${real}.`, 'path');
  const data = await ctx.data();
  return scanSummary(await data.scanFolder(real, {}));
}

/** Images per class (empty class folders are not classes) and the skipped files with reasons. */
function scanSummary(scan: ScanResult): ScanSummary {
  const classes: Record<string, number> = Object.fromEntries(scan.classes.map((c) => [c, 0]));
  for (const f of scan.files) classes[f.label] = (classes[f.label] ?? 0) + 1;
  return {
    root: scan.root,
    classes,
    givenSplits: scan.givenSplits,
    images: scan.files.length,
    skipped: scan.skipped.map(({ file, reason }) => ({ file, reason })),
  };
}

export async function startImport(
  ctx: ServiceContext,
  a: ParsedArgs<'datasets.import'>,
): Promise<JobStarted> {
  const real = ctx.grants.check(a.path, 'path');
  const stat = await fs.stat(real).catch(() => undefined);
  if (!stat?.isDirectory())
    throw new ServiceError('not-found', `"path": ${a.path.slice(0, 300)} is not a folder.`, 'path');
  return ctx.jobs.start('import', `Import ${nodePath.basename(real)}`, async (job) => {
    const ds = await ctx.datasets.importFolder(real, {
      imageSize: a.imageSize,
      fit: a.fit,
      channels: a.channels,
      valFraction: a.valFraction,
      testFraction: a.testFraction,
      seed: a.seed,
      signal: job.signal,
      onProgress: (p) => job.progress(p, p.phase !== 'decode'),
    });
    requireImages(ds);
    return ctx.datasets.summary(ds);
  });
}

/** A dataset with no readable image is refused with one line (not an empty success, issue 13). */
export function requireImages(ds: ImportedDataset): void {
  const n = ds.splits.train.count + ds.splits.val.count + ds.splits.test.count;
  if (n === 0) {
    const skipped = ds.report.skipped.length;
    throw new ServiceError(
      'failed',
      `${ds.root} has no readable images${skipped ? ` (${skipped} file(s) skipped: ${ds.report.skipped[0]!.reason}, …)` : ''}; it needs one sub-folder of images per class.`,
      'path',
    );
  }
}

export async function removeDataset(
  ctx: ServiceContext,
  { id }: ParsedArgs<'datasets.remove'>,
): Promise<Results['datasets.remove']> {
  const listed = (await ctx.datasets.list()).find((d) => d.id === id);
  if (!listed)
    throw new ServiceError(
      'not-found',
      `No dataset "${id}"; datasets.list shows the datasets you have.`,
      'id',
    );
  await (await ctx.data()).removeDataset(id);
  ctx.datasets.forget(id);
  return { removed: id };
}

export async function datasetFiles(
  ctx: ServiceContext,
  { id, split = 'all', className, offset = 0, limit = 200 }: ParsedArgs<'datasets.files'>,
): Promise<Results['datasets.files']> {
  const ds = await ctx.datasets.byId(id);
  const splits = split === 'all' ? (['train', 'val', 'test'] as const) : ([split] as const);
  const classIndex = className === undefined ? -1 : ds.classes.indexOf(className);
  if (className !== undefined && classIndex < 0) {
    throw new ServiceError('not-found', `Dataset "${id}" has no class "${className}".`, 'className');
  }
  const files: { file: string; className: string; split: string }[] = [];
  let total = 0;
  for (const s of splits) {
    const set = ds.splits[s];
    for (let i = 0; i < set.count; i++) {
      const label = set.labels[i]!;
      if (classIndex >= 0 && label !== classIndex) continue;
      if (total >= offset && files.length < limit)
        files.push({ file: set.files[i]!, className: ds.classes[label] ?? String(label), split: s });
      total++;
    }
  }
  return { total, files };
}
