/**
 * The service: every contract operation, independent of any transport (Electron IPC, the
 * `rank1 serve` WebSocket and the CLI all wrap one of these). It owns jobs, path grants, the model
 * cache and settings; the engine and the data room are injected (real ones loaded lazily).
 */
import { promises as fs, constants as fsConstants, mkdirSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { randomBytes } from 'node:crypto';
import Papa from 'papaparse';
import type { z } from 'zod';
import {
  ServiceError,
  defaultSettings,
  parseArgs,
  settingsSchema,
  type DatasetSummary,
  type EvaluateResult,
  type JobInfo,
  type JobKind,
  type JobResults,
  type JobStarted,
  type ModelConfig,
  type OperationName,
  type PredictionRow,
  type Results,
  type ScanSummary,
  type ServiceErrorShape,
  type ServiceEvent,
  type ServiceHandler,
  type Settings,
  type TrainConfig,
  type operations,
} from './contract.js';
import type { DatasetMetrics, EpochMetrics, ImagePrediction, OodMetrics } from './engine/types.js';
import type { ExampleSet, PreparedImage, Preprocessing } from './data/types.js';
import { IMAGE_EXTENSIONS } from './data/formats.js';
import type { TrainRequest } from './engine/train.js';
import { installDemoModel } from './store/demo.js';
import {
  ModelFormatError,
  ModelImportError,
  OutputFolderError,
  StoreError,
  PathGrants,
  SettingsStore,
  exportModelZip,
  getModel,
  importModel,
  listModels,
  modelDir,
  modelExists,
  modelsDir,
  newModelId,
  readModelFolder,
  removeModel,
  renameModel,
  setFlagScore,
  toSummary,
  writeFileAtomic,
  MAX_MODEL_BYTES,
  type ModelMeta,
} from './store/index.js';

// ---------------------------------------------------------------------------------------------
// What the service needs from the engine and the data room (structural, so fakes fit)

/** What `trainModel` takes (the engine's own request type; fakes in tests fit it). */
export type EngineTrainRequest = TrainRequest;

export type EnginePrediction = ImagePrediction & {
  scores?: Record<string, number>;
  flag?: { score: string; value: number; threshold: number };
};

export interface EngineEvaluation {
  metrics: DatasetMetrics;
  ood?: OodMetrics & { scores?: Record<string, { auroc: number; fpr95: number }> };
  items: EvaluateResult['items'];
  oodItems?: EvaluateResult['oodItems'];
}

export interface EngineModel {
  dir: string;
  meta: ModelMeta;
  predict(pixels: Uint8Array, count: number, opts?: { samples?: number }): Promise<EnginePrediction[]>;
  evaluate(
    set: ExampleSet,
    opts?: {
      samples?: number;
      ood?: ExampleSet;
      signal?: AbortSignal;
      onProgress?: (done: number, total: number) => void;
    },
  ): Promise<EngineEvaluation>;
  dispose(): void;
}

export interface EngineApi {
  trainModel(req: EngineTrainRequest): Promise<ModelMeta>;
  loadModel(dir: string): Promise<EngineModel>;
  initBackend?(requested?: Settings['backend']): Promise<{ name: string; device: string }>;
  currentBackend?(): { name: string; device: string } | undefined;
  availableBackends?(): Promise<{ name: string; available: boolean; reason?: string }[]>;
  /** Loads (downloads) a backbone and embeds the splits; undefined for 'none'. */
  prepareTransfer?(
    backbone: string,
    dataset: { splits: { train: ExampleSet; val: ExampleSet } },
    opts: { signal?: AbortSignal; onProgress?: (p: unknown) => void },
  ): Promise<TrainRequest['backbone']>;
  chooseBackbone?(given: string | undefined, channels: 1 | 3, size: number): string;
}

export interface ImportedDataset {
  id: string;
  root: string;
  classes: string[];
  preprocessing: Preprocessing;
  splits: { train: ExampleSet; val: ExampleSet; test: ExampleSet };
  report?: unknown;
}

export interface DatasetImportOptions {
  imageSize?: number;
  fit?: 'cover' | 'contain';
  channels?: 1 | 3 | 'auto';
  valFraction?: number;
  testFraction?: number;
  seed?: number;
  signal?: AbortSignal;
  onProgress?: (p: unknown) => void;
}

export interface DataApi {
  dataHome?(): string;
  prepareImage(input: string | Buffer, prep: Preprocessing): Promise<PreparedImage>;
  scanFolder(root: string, opts?: { signal?: AbortSignal }): Promise<unknown>;
  importDataset(root: string, opts: DatasetImportOptions): Promise<ImportedDataset>;
  listDatasets(): Promise<unknown[]>;
  removeDataset(id: string): Promise<unknown>;
  thumbnail(file: string | Buffer, size: number): Promise<unknown>;
}

export interface ServiceOptions {
  /** The data home (models, settings). Default: the data room's `dataHome()` / `RANK1_HOME`. */
  home?: string;
  grants?: PathGrants;
  engine?: EngineApi;
  data?: DataApi;
  /** Milliseconds since the epoch; injectable so throttling is testable. */
  clock?: () => number;
  /** Images per `model.predict` call. */
  predictBatch?: number;
  /** Minimum milliseconds between two `step` progress events of one job. */
  progressIntervalMs?: number;
  /**
   * The app's resources folder: on first start the demo model under `resources/demo` is installed
   * (issue 5). Off unless given, so tests start with an empty home.
   */
  resourcesDir?: string;
}

type Args<O extends OperationName> = z.output<(typeof operations)[O]>;
type Handlers = { [O in OperationName]: (args: Args<O>) => Promise<Results[O]> };

const MAX_RECENT_JOBS = 50;
const MODEL_CACHE_SIZE = 2;
/** Largest export returned inline (the import side accepts the same as a dropped file). */
const MAX_INLINE_EXPORT = 48 * 1024 * 1024;

function defaultHome(): string {
  const env = process.env.RANK1_HOME?.trim();
  if (env) return nodePath.resolve(env);
  const home = os.homedir();
  if (process.platform === 'win32')
    return nodePath.join(process.env.APPDATA ?? nodePath.join(home, 'AppData', 'Roaming'), 'Rank1 Studio');
  if (process.platform === 'darwin')
    return nodePath.join(home, 'Library', 'Application Support', 'Rank1 Studio');
  return nodePath.join(home, '.rank1-studio');
}

function abortError(): Error {
  const e = new Error('Cancelled.');
  e.name = 'AbortError';
  return e;
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/** Any thrown value → a typed error with a message saying what to do. Never throws. */
export function toServiceError(e: unknown): ServiceError {
  if (e instanceof ServiceError) return e;
  if (e instanceof OutputFolderError) return new ServiceError('bad-request', `${e.message}.`, 'out');
  if (e instanceof ModelImportError)
    return new ServiceError('failed', `Cannot import the model: ${e.message}.`);
  if (e instanceof ModelFormatError) return new ServiceError('failed', `${e.message}.`);
  if (e instanceof StoreError) return new ServiceError(e.code, e.message, e.field);
  if (e instanceof Error) {
    if (e.name === 'AbortError') return new ServiceError('cancelled', 'Cancelled.');
    if (e.name === 'ImageError') {
      const file = (e as Error & { file?: string }).file;
      return new ServiceError('failed', `${file ? `${file}: ` : ''}${e.message}`);
    }
    const code = errno(e);
    const where = (e as NodeJS.ErrnoException).path;
    if (code === 'ENOENT')
      return new ServiceError(
        'not-found',
        `${where ?? 'A file'} does not exist; check the path and try again.`,
      );
    if (code === 'EACCES' || code === 'EPERM') {
      return new ServiceError(
        'failed',
        `No permission to access ${where ?? 'a file'}; check its permissions.`,
      );
    }
    if (code === 'ENOSPC')
      return new ServiceError('failed', 'The disk is full; free some space and try again.');
    return new ServiceError('failed', e.message || e.name);
  }
  return new ServiceError('failed', String(e).slice(0, 2000));
}

// ---------------------------------------------------------------------------------------------
// Example-set views (subsets, concatenations, label remapping) without copying pixels

interface SetEntry {
  set: ExampleSet;
  index: number;
  label: number;
}

function entriesOf(set: ExampleSet): SetEntry[] {
  return Array.from({ length: set.count }, (_, i) => ({ set, index: i, label: set.labels[i]! }));
}

function viewSet(entries: SetEntry[], shape: { height: number; width: number; channels: 1 | 3 }): ExampleSet {
  const pixelsPer = shape.height * shape.width * shape.channels;
  return {
    count: entries.length,
    height: shape.height,
    width: shape.width,
    channels: shape.channels,
    labels: Int32Array.from(entries, (e) => e.label),
    files: entries.map((e) => e.set.files[e.index]!),
    async read(indices: ArrayLike<number>): Promise<Uint8Array> {
      const out = new Uint8Array(indices.length * pixelsPer);
      const groups = new Map<ExampleSet, { local: number[]; at: number[] }>();
      for (let k = 0; k < indices.length; k++) {
        const e = entries[indices[k]!];
        if (!e) throw new RangeError(`example ${indices[k]} out of range`);
        let g = groups.get(e.set);
        if (!g) groups.set(e.set, (g = { local: [], at: [] }));
        g.local.push(e.index);
        g.at.push(k);
      }
      for (const [set, g] of groups) {
        const bytes = await set.read(g.local);
        g.at.forEach((k, j) => out.set(bytes.subarray(j * pixelsPer, (j + 1) * pixelsPer), k * pixelsPer));
      }
      return out;
    },
  };
}

/** A small in-memory set of prepared images (OOD folders that are not class folders). */
function memorySet(files: string[], images: PreparedImage[], prep: Preprocessing): ExampleSet {
  const pixelsPer = prep.size * prep.size * prep.channels;
  return {
    count: images.length,
    height: prep.size,
    width: prep.size,
    channels: prep.channels,
    labels: new Int32Array(images.length),
    files,
    async read(indices: ArrayLike<number>): Promise<Uint8Array> {
      const out = new Uint8Array(indices.length * pixelsPer);
      for (let k = 0; k < indices.length; k++) out.set(images[indices[k]!]!.pixels, k * pixelsPer);
      return out;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Jobs

interface Job {
  info: JobInfo;
  controller: AbortController;
  lastEmit: number;
}

interface JobContext {
  jobId: string;
  signal: AbortSignal;
  /** Record progress; emitted at most every `progressIntervalMs` unless `important`. */
  progress(p: ServiceEventProgress, important?: boolean): void;
  item(row: PredictionRow): void;
  history(m: EpochMetrics): void;
}

type ServiceEventProgress = Extract<ServiceEvent, { type: 'job.progress' }>['progress'];

interface CachedModel {
  model: Promise<EngineModel>;
  users: number;
  evicted: boolean;
}

// ---------------------------------------------------------------------------------------------

export class Service implements ServiceHandler {
  readonly home: string;
  readonly grants: PathGrants;
  private readonly listeners = new Set<(e: ServiceEvent) => void>();
  private readonly jobs = new Map<string, Job>();
  private readonly settings: SettingsStore<Settings>;
  private readonly clock: () => number;
  private readonly predictBatch: number;
  private readonly progressIntervalMs: number;
  private enginePromise: Promise<EngineApi> | undefined;
  private dataPromise: Promise<DataApi> | undefined;
  private backendFor: string | undefined;
  private readonly models = new Map<string, CachedModel>();
  /** Datasets imported in this session, by id (their ExampleSets are reusable). */
  private readonly datasets = new Map<string, ImportedDataset>();
  /** Model id → job id of the training writing it. */
  private readonly training = new Map<string, string>();
  private jobCounter = 0;
  private disposed = false;
  private readonly handlers: Handlers;

  private demoInstalled?: Promise<boolean>;

  constructor(private readonly opts: ServiceOptions = {}) {
    this.home = nodePath.resolve(opts.home ?? opts.data?.dataHome?.() ?? defaultHome());
    // Created up front (sync: a constructor) so the grant below resolves to its real path.
    mkdirSync(this.home, { recursive: true });
    this.grants = opts.grants ?? new PathGrants();
    this.grants.grant(this.home);
    this.settings = new SettingsStore(this.home, { schema: settingsSchema, defaults: defaultSettings });
    this.clock = opts.clock ?? Date.now;
    this.predictBatch = opts.predictBatch ?? 32;
    this.progressIntervalMs = opts.progressIntervalMs ?? 100;
    if (opts.engine) this.enginePromise = Promise.resolve(opts.engine);
    if (opts.data) this.dataPromise = Promise.resolve(opts.data);
    this.handlers = this.makeHandlers();
  }

  // -- ServiceHandler ---------------------------------------------------------------------------

  async call(op: string, args: unknown): Promise<unknown> {
    try {
      if (this.disposed) throw new ServiceError('unsupported', 'The service has shut down; restart the app.');
      // First start: the demo model is there before the UI lists models (a failure installs nothing).
      if (this.opts.resourcesDir)
        await (this.demoInstalled ??= installDemoModel(this.home, this.opts.resourcesDir).catch(() => false));
      const parsed = parseArgs(op, args);
      const handler = this.handlers[parsed.op] as (a: unknown) => Promise<unknown>;
      return await handler(parsed.args);
    } catch (e) {
      throw toServiceError(e);
    }
  }

  subscribe(listener: (e: ServiceEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Privileged (not an operation): the user picked or dropped this path. */
  grant(p: string): void {
    this.grants.grant(p);
  }

  /** Cancel running jobs, free loaded models, drop listeners. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const job of this.jobs.values()) if (job.info.state === 'running') job.controller.abort();
    for (const [id] of this.models) this.evictModel(id);
    this.listeners.clear();
  }

  // -- plumbing ---------------------------------------------------------------------------------

  private emit(e: ServiceEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(e);
      } catch {
        // A broken listener (a closed window) must not stop the others or the job.
      }
    }
  }

  private engine(): Promise<EngineApi> {
    return (this.enginePromise ??= this.loadRoom<EngineApi>(
      () => import('./engine/index.js'),
      'The training engine',
      () => (this.enginePromise = undefined),
    ));
  }

  private data(): Promise<DataApi> {
    return (this.dataPromise ??= this.loadRoom<DataApi>(
      () => import('./data/index.js'),
      'The image module',
      () => (this.dataPromise = undefined),
    ));
  }

  /** Lazy import of a room; a failure is a typed error and the next call tries again. */
  private loadRoom<T>(load: () => Promise<unknown>, what: string, forget: () => void): Promise<T> {
    return load().then(
      (m) => m as T,
      (e: unknown) => {
        forget();
        throw new ServiceError(
          'unsupported',
          `${what} could not be loaded (${e instanceof Error ? e.message : String(e)}); reinstall the app.`,
        );
      },
    );
  }

  /** Engine with its backend initialised as the settings ask (again after a change). */
  private async readyEngine(): Promise<EngineApi> {
    const engine = await this.engine();
    const wanted = (await this.settings.get()).backend;
    if (engine.initBackend && this.backendFor !== wanted) {
      await engine.initBackend(wanted);
      this.backendFor = wanted;
    }
    return engine;
  }

  private startJob<K extends JobKind>(
    kind: K,
    title: string,
    work: (ctx: JobContext) => Promise<JobResults[K]>,
  ): JobStarted {
    const jobId = `${kind}-${++this.jobCounter}-${randomBytes(3).toString('hex')}`;
    const job: Job = {
      info: { jobId, kind, state: 'running', startedAt: new Date(this.clock()).toISOString(), title },
      controller: new AbortController(),
      lastEmit: -Infinity,
    };
    this.jobs.set(jobId, job);
    this.pruneJobs();
    const ctx: JobContext = {
      jobId,
      signal: job.controller.signal,
      progress: (progress, important = false) => {
        job.info.last = progress;
        const now = this.clock();
        if (!important && now - job.lastEmit < this.progressIntervalMs) return;
        job.lastEmit = now;
        this.emit({ type: 'job.progress', jobId, kind, progress });
      },
      item: (item) => this.emit({ type: 'job.item', jobId, kind: 'predict', item }),
      history: (m) => (job.info.history ??= []).push(m),
    };
    this.emit({ type: 'job.started', job: { ...job.info } });
    // Start on a later tick so the caller has the id before any progress arrives.
    setImmediate(() => {
      void (async () => {
        try {
          if (job.controller.signal.aborted) throw abortError();
          const result = await work(ctx);
          if (job.controller.signal.aborted) throw abortError();
          job.info.state = 'done';
          this.emit({ type: 'job.done', jobId, kind, result });
        } catch (e) {
          if (job.controller.signal.aborted) {
            job.info.state = 'cancelled';
            this.emit({ type: 'job.cancelled', jobId, kind });
          } else {
            job.info.state = 'failed';
            const error: ServiceErrorShape = toServiceError(e).toJSON();
            job.info.last = { error };
            this.emit({ type: 'job.failed', jobId, kind, error });
          }
        }
      })();
    });
    return { jobId };
  }

  private pruneJobs(): void {
    const finished = [...this.jobs.values()].filter((j) => j.info.state !== 'running');
    for (const j of finished.slice(0, Math.max(0, finished.length - MAX_RECENT_JOBS)))
      this.jobs.delete(j.info.jobId);
  }

  private jobList(kind?: JobKind): JobInfo[] {
    return [...this.jobs.values()]
      .filter((j) => !kind || j.info.kind === kind)
      .map((j) => ({ ...j.info, history: j.info.history ? [...j.info.history] : undefined }));
  }

  // -- models -----------------------------------------------------------------------------------

  /** Typed error for a model that is absent or cannot be read. */
  private async modelMeta(id: string): Promise<ModelMeta> {
    if (!(await modelExists(this.home, id))) {
      throw new ServiceError('not-found', `No model "${id}"; models.list shows the models you have.`, 'id');
    }
    try {
      return await getModel(this.home, id);
    } catch (e) {
      throw this.modelLoadError(id, e);
    }
  }

  private modelLoadError(id: string, e: unknown): ServiceError {
    if (e instanceof ServiceError) return e;
    if (e instanceof ModelFormatError) {
      const reason = e.message.startsWith(`${e.dir}: `) ? e.message.slice(e.dir.length + 2) : e.message;
      const advice = /newer than this app/.test(reason)
        ? 'Update Rank-1 Studio to open it.'
        : 'Remove it and train it again, or import it again from an export.';
      return new ServiceError('failed', `Model "${id}" cannot be loaded: ${reason}. ${advice}`);
    }
    const se = toServiceError(e);
    return new ServiceError(
      se.code === 'not-found' ? 'failed' : se.code,
      `Model "${id}" cannot be loaded: ${se.message}`,
    );
  }

  /** A loaded model from the LRU cache; call `release` when done with it. */
  private async acquireModel(id: string): Promise<{ model: EngineModel; release: () => void }> {
    let entry = this.models.get(id);
    if (entry) {
      this.models.delete(id);
      this.models.set(id, entry);
    } else {
      if (!(await modelExists(this.home, id))) {
        throw new ServiceError(
          'not-found',
          `No model "${id}"; models.list shows the models you have.`,
          'model',
        );
      }
      const dir = modelDir(this.home, id);
      const model = (async () => {
        try {
          // Verify size and SHA-256 here, whatever the engine checks, so damage is reported as such.
          await readModelFolder(dir);
          const engine = await this.readyEngine();
          return await engine.loadModel(dir);
        } catch (e) {
          throw this.modelLoadError(id, e);
        }
      })();
      entry = { model, users: 0, evicted: false };
      this.models.set(id, entry);
      for (const old of [...this.models.keys()].slice(0, Math.max(0, this.models.size - MODEL_CACHE_SIZE)))
        this.evictModel(old);
    }
    const cached = entry;
    cached.users++;
    let model: EngineModel;
    try {
      model = await cached.model;
    } catch (e) {
      cached.users--;
      if (this.models.get(id) === cached) this.models.delete(id);
      throw e;
    }
    let released = false;
    return {
      model,
      release: () => {
        if (released) return;
        released = true;
        cached.users--;
        if (cached.evicted && cached.users === 0)
          void cached.model.then((m) => m.dispose()).catch(() => undefined);
      },
    };
  }

  private evictModel(id: string): void {
    const entry = this.models.get(id);
    if (!entry) return;
    this.models.delete(id);
    entry.evicted = true;
    if (entry.users === 0) void entry.model.then((m) => m.dispose()).catch(() => undefined);
  }

  // -- datasets ---------------------------------------------------------------------------------

  private async listDatasetSummaries(): Promise<DatasetSummary[]> {
    const data = await this.data();
    const raw = await data.listDatasets();
    const out: DatasetSummary[] = [];
    for (const r of raw) {
      const s = normalizeDataset(r);
      if (!s) continue;
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
    const out: DatasetImportOptions = { fit: o.fit ?? settings.defaultFit };
    for (const k of [
      'imageSize',
      'channels',
      'valFraction',
      'testFraction',
      'seed',
      'signal',
      'onProgress',
    ] as const) {
      if (o[k] !== undefined) (out as Record<string, unknown>)[k] = o[k];
    }
    return out;
  }

  private async importFolder(root: string, o: Partial<DatasetImportOptions>): Promise<ImportedDataset> {
    const data = await this.data();
    const ds = await data.importDataset(root, this.importOptions(o, await this.settings.get()));
    this.datasets.set(ds.id, ds);
    return ds;
  }

  /**
   * A dataset by id (from datasets.list) or by folder path (imported first). With `prep`, the
   * result has that preprocessing (re-imported from the root when it differs).
   */
  private async resolveDataset(
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
    const known = this.datasets.get(ref);
    if (known && same(known.preprocessing)) return known;
    const listed = /^[A-Za-z0-9._-]+$/.test(ref)
      ? (await this.listDatasetSummaries()).find((d) => d.id === ref)
      : undefined;
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
        `"${field}": no dataset with id "${ref.slice(0, 200)}" and no folder at that path; import a folder first.`,
        field,
      );
    }
    return this.importFolder(real, wanted);
  }

  /** Image files under a folder, recursively, sorted; symlinks leaving the grants are skipped. */
  private async walkImages(root: string, signal?: AbortSignal): Promise<string[]> {
    const out: string[] = [];
    const visit = async (dir: string): Promise<void> => {
      if (signal?.aborted) throw abortError();
      const entries = await fs.readdir(dir, { withFileTypes: true });
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const e of entries) {
        if (e.name.startsWith('.')) continue;
        const full = nodePath.join(dir, e.name);
        if (e.isDirectory()) await visit(full);
        else if (IMAGE_EXTENSIONS.has(nodePath.extname(e.name).toLowerCase())) {
          if (e.isFile() || (e.isSymbolicLink() && this.grants.isAllowed(full))) out.push(full);
        }
      }
    };
    await visit(root);
    return out;
  }

  private async thumbnailOf(
    source: string | Buffer,
    size: number,
  ): Promise<{ mime: string; base64: string }> {
    const data = await this.data();
    const t = normalizeThumbnail(await data.thumbnail(source, size));
    if (!t) throw new ServiceError('failed', 'The thumbnail could not be made.');
    return t;
  }

  // -- operations -------------------------------------------------------------------------------

  private makeHandlers(): Handlers {
    return {
      'system.info': () => this.systemInfo(),

      'datasets.scan': async ({ path }) => {
        const real = this.grants.check(path, 'path');
        const data = await this.data();
        return normalizeScan(real, await data.scanFolder(real, {}));
      },

      'datasets.import': async (a) => {
        const real = this.grants.check(a.path, 'path');
        const stat = await fs.stat(real).catch(() => undefined);
        if (!stat?.isDirectory())
          throw new ServiceError('not-found', `"path": ${a.path.slice(0, 300)} is not a folder.`, 'path');
        return this.startJob('import', `Import ${nodePath.basename(real)}`, async (ctx) => {
          const ds = await this.importFolder(real, {
            imageSize: a.imageSize,
            fit: a.fit,
            channels: a.channels,
            valFraction: a.valFraction,
            testFraction: a.testFraction,
            seed: a.seed,
            signal: ctx.signal,
            onProgress: (p) =>
              ctx.progress(p as ServiceEventProgress, (p as { phase?: string }).phase !== 'decode'),
          });
          return this.datasetSummary(ds);
        });
      },

      'datasets.list': () => this.listDatasetSummaries(),

      'datasets.remove': async ({ id }) => {
        const listed = (await this.listDatasetSummaries()).find((d) => d.id === id);
        if (!listed)
          throw new ServiceError(
            'not-found',
            `No dataset "${id}"; datasets.list shows the datasets you have.`,
            'id',
          );
        await (await this.data()).removeDataset(id);
        this.datasets.delete(id);
        return { removed: id };
      },

      'datasets.files': async ({ id, split = 'all', className, offset = 0, limit = 200 }) => {
        const ds = await this.resolveDatasetById(id);
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
      },

      'datasets.thumbnail': async ({ file, size }) =>
        this.thumbnailOf(await this.checkPath(file, 'file'), size ?? 128),

      'train.start': (a) => this.startTraining(a),
      'train.status': async () => this.jobList('train'),
      'jobs.list': async () => this.jobList(),
      'jobs.cancel': async ({ jobId }) => {
        const job = this.jobs.get(jobId);
        if (!job)
          throw new ServiceError(
            'not-found',
            `No job "${jobId}"; jobs.list shows the current ones.`,
            'jobId',
          );
        if (job.info.state !== 'running') return { cancelled: false };
        job.controller.abort();
        return { cancelled: true };
      },

      'models.list': async () => {
        const { models } = await listModels(this.home);
        // Broken folders are skipped here; models.get on one says what is wrong with it.
        return models.map(toSummary);
      },
      'models.get': async ({ id }) => toSummary(await this.modelMeta(id)),
      'models.rename': async ({ id, name }) => {
        await this.modelMeta(id);
        this.refuseWhileTraining(id);
        return toSummary(await renameModel(this.home, id, name));
      },
      'models.setFlag': async ({ id, score }) => {
        await this.modelMeta(id);
        this.refuseWhileTraining(id);
        let meta: ModelMeta;
        try {
          meta = await setFlagScore(this.home, id, score);
        } catch (e) {
          throw new ServiceError('failed', (e as Error).message, 'score');
        }
        this.evictModel(id);
        return toSummary(meta);
      },
      'models.remove': async ({ id }) => {
        if (!(await modelExists(this.home, id)))
          throw new ServiceError('not-found', `No model "${id}".`, 'id');
        this.refuseWhileTraining(id);
        this.evictModel(id);
        await removeModel(this.home, id);
        return { removed: id };
      },
      'models.export': async ({ id, dest }) => {
        await this.modelMeta(id);
        let fileName: string;
        let zip: Uint8Array;
        try {
          ({ fileName, zip } = await exportModelZip(this.home, id));
        } catch (e) {
          throw this.modelLoadError(id, e);
        }
        if (dest !== undefined) {
          let target = this.grants.check(dest, 'dest');
          const stat = await fs.stat(target).catch(() => undefined);
          if (stat?.isDirectory()) target = nodePath.join(target, fileName);
          await writeFileAtomic(target, zip);
          return { path: target, fileName: nodePath.basename(target) };
        }
        if (zip.byteLength > MAX_INLINE_EXPORT) {
          throw new ServiceError(
            'too-large',
            `The export is ${Math.round(zip.byteLength / 2 ** 20)} MB; choose a destination file instead.`,
            'dest',
          );
        }
        return {
          fileName,
          base64: Buffer.from(zip.buffer, zip.byteOffset, zip.byteLength).toString('base64'),
        };
      },
      'models.import': async ({ path, file }) => {
        let meta: ModelMeta;
        if (path !== undefined) {
          const real = this.grants.check(path, 'path');
          const stat = await fs.stat(real).catch(() => undefined);
          if (!stat)
            throw new ServiceError('not-found', `"path": ${path.slice(0, 300)} does not exist.`, 'path');
          if (stat.isDirectory()) meta = await importModel(this.home, { dir: real });
          else {
            if (stat.size > MAX_MODEL_BYTES)
              throw new ServiceError('too-large', 'The file is larger than any model export (2 GB).', 'path');
            meta = await importModel(this.home, { zip: await fs.readFile(real) });
          }
        } else {
          meta = await importModel(this.home, { zip: Buffer.from(file!.base64, 'base64') });
        }
        return toSummary(meta);
      },

      evaluate: (a) => this.startEvaluate(a),
      predict: (a) => this.startPredict(a),

      'predictions.csv': async ({ rows }) => ({ csv: predictionsCsv(rows as PredictionRow[]) }),
      'predictions.copy': (a) => this.copyPredictions(a.rows as PredictionRow[], a.dest),

      'settings.get': () => this.settings.get(),
      'settings.set': (patch) => this.settings.set(patch),
    };
  }

  /**
   * `grants.check`, but a path inside a dataset imported in an earlier session is allowed too
   * (its folder was granted then; the data room's list is trusted).
   */
  private async checkPath(p: string, field: string): Promise<string> {
    try {
      return this.grants.check(p, field);
    } catch (e) {
      if (!(e instanceof StoreError) || e.code !== 'forbidden') throw e;
      await this.listDatasetSummaries().catch(() => []);
      return this.grants.check(p, field);
    }
  }

  private refuseWhileTraining(id: string): void {
    if (this.training.has(id)) {
      throw new ServiceError('conflict', `Model "${id}" is being trained; cancel the training first.`, 'id');
    }
  }

  private async resolveDatasetById(id: string): Promise<ImportedDataset> {
    const known = this.datasets.get(id);
    if (known) return known;
    const listed = (await this.listDatasetSummaries()).find((d) => d.id === id);
    if (!listed)
      throw new ServiceError(
        'not-found',
        `No dataset "${id}"; datasets.list shows the datasets you have.`,
        'id',
      );
    const p = listed.preprocessing;
    return this.importFolder(listed.root, { imageSize: p.size, fit: p.fit, channels: p.channels });
  }

  private datasetSummary(ds: ImportedDataset): DatasetSummary {
    return {
      id: ds.id,
      root: ds.root,
      images: ds.splits.train.count + ds.splits.val.count + ds.splits.test.count,
      classes: ds.classes,
      preprocessing: ds.preprocessing,
      importedAt: new Date(this.clock()).toISOString(),
      ...(ds.report ? { report: ds.report as DatasetSummary['report'] } : {}),
    };
  }

  private async systemInfo(): Promise<Results['system.info']> {
    const versions: Record<string, string> = { node: process.versions.node };
    const app = readPackageVersion('rank1-studio');
    if (app) versions.app = app;
    const tfjs = readPackageVersion('@tensorflow/tfjs-core');
    if (tfjs) versions.tfjs = tfjs;
    if (process.versions.electron) versions.electron = process.versions.electron;
    if (process.versions.chrome) versions.chrome = process.versions.chrome;
    let backend: Results['system.info']['backend'] = null;
    let backends: Results['system.info']['backends'];
    try {
      const engine = await this.readyEngine();
      const b = engine.currentBackend?.();
      if (b) backend = { name: b.name, device: b.device };
      backends = (await engine.availableBackends?.()) ?? [];
    } catch (e) {
      backends = [{ name: 'engine', available: false, reason: toServiceError(e).message }];
    }
    return {
      app: 'Rank-1 Studio',
      versions,
      backend,
      backends,
      dataHome: this.home,
      platform: `${process.platform}-${process.arch}`,
    };
  }

  // -- training ---------------------------------------------------------------------------------

  private async startTraining(a: Args<'train.start'>): Promise<JobStarted> {
    let resumed: ModelMeta | undefined;
    if (a.resumeFrom) {
      resumed = await this.modelMeta(a.resumeFrom);
      this.refuseWhileTraining(a.resumeFrom);
    }
    // Fail fast (as the call's error) on a path outside the grants.
    const knownRoot =
      this.datasets.get(a.dataset)?.root ??
      (await this.listDatasetSummaries().catch(() => [])).find((d) => d.id === a.dataset)?.root;
    if (knownRoot === undefined) this.grants.check(a.dataset, 'dataset');
    if (a.backbone && /[\\/]/.test(a.backbone)) this.grants.check(a.backbone, 'backbone');

    const folder = nodePath.basename(knownRoot ?? a.dataset);
    const name = a.name ?? resumed?.name ?? `${folder} ${new Date(this.clock()).toISOString().slice(0, 10)}`;
    const id = a.resumeFrom ?? newModelId(name);
    this.training.set(id, 'pending');
    let started: JobStarted;
    try {
      started = this.startJob('train', `Train ${name}`, async (ctx) => {
        try {
          const ds = await this.resolveDataset(a.dataset, 'dataset', {
            ...(resumed
              ? { prep: resumed.preprocessing }
              : { imageSize: a.imageSize, fit: a.fit, channels: a.channels }),
            valFraction: a.valFraction,
            seed: a.seed,
            signal: ctx.signal,
            onProgress: (p) =>
              ctx.progress(p as ServiceEventProgress, (p as { phase?: string }).phase !== 'decode'),
          });
          if (ctx.signal.aborted) throw abortError();
          const engine = await this.readyEngine();
          const backboneName = engine.chooseBackbone
            ? engine.chooseBackbone(a.backbone, ds.preprocessing.channels, ds.preprocessing.size)
            : (a.backbone ?? 'none');
          const backbone =
            backboneName !== 'none' && engine.prepareTransfer
              ? await engine.prepareTransfer(backboneName, ds, {
                  signal: ctx.signal,
                  onProgress: (p) => ctx.progress(p as ServiceEventProgress, false),
                })
              : undefined;
          const model: Partial<ModelConfig> = {};
          if (a.arch && a.arch !== 'auto') model.arch = a.arch;
          if (a.method) model.method = a.method;
          if (a.members) model.members = a.members;
          if (a.posterior) model.posterior = a.posterior;
          const config: Partial<TrainConfig> = {};
          if (a.epochs) config.epochs = a.epochs;
          if (a.batchSize) config.batchSize = a.batchSize;
          if (a.learningRate) config.learningRate = a.learningRate;
          if (a.optimizer) config.optimizer = a.optimizer;
          if (a.seed !== undefined) config.seed = a.seed;
          // The engine merges a partial augment with its preset's.
          if (a.augment) config.augment = a.augment as TrainConfig['augment'];
          await fs.mkdir(modelsDir(this.home), { recursive: true });
          this.evictModel(id);
          const meta = await engine.trainModel({
            train: ds.splits.train,
            val: ds.splits.val,
            classes: ds.classes,
            preprocessing: ds.preprocessing,
            datasetRoot: ds.root,
            heldOut: { val: [...ds.splits.val.files], test: [...ds.splits.test.files] },
            model,
            config,
            ...(a.preset ? { preset: a.preset } : {}),
            ...(backbone ? { backbone } : {}),
            id,
            name,
            outDir: modelDir(this.home, id),
            resume: !!resumed,
            oodTpr: (await this.settings.get()).oodTpr,
            signal: ctx.signal,
            onEvent: (e) => {
              if (e.type === 'epoch') ctx.history(e.metrics);
              ctx.progress(e, e.type !== 'step');
            },
          });
          this.evictModel(id);
          return toSummary({ ...meta, id });
        } finally {
          this.training.delete(id);
        }
      });
    } catch (e) {
      this.training.delete(id);
      throw e;
    }
    this.training.set(id, started.jobId);
    return started;
  }

  // -- evaluation -------------------------------------------------------------------------------

  private async startEvaluate(a: Args<'evaluate'>): Promise<JobStarted> {
    const meta = await this.modelMeta(a.model);
    const isKnownId =
      this.datasets.has(a.dataset) ||
      (await this.listDatasetSummaries().catch(() => [])).some((d) => d.id === a.dataset);
    if (!isKnownId) this.grants.check(a.dataset, 'dataset');
    const oodRoot = a.ood !== undefined ? this.grants.check(a.ood, 'ood') : undefined;
    return this.startJob('evaluate', `Evaluate ${meta.name}`, async (ctx) => {
      const { model, release } = await this.acquireModel(a.model);
      try {
        const prep = meta.preprocessing;
        const ds = await this.resolveDataset(a.dataset, 'dataset', { prep, signal: ctx.signal });
        const split = a.split ?? 'auto';
        let entries: SetEntry[];
        let splitName: string = split;
        if (split === 'train' || split === 'val' || split === 'test') entries = entriesOf(ds.splits[split]);
        else {
          entries = [
            ...entriesOf(ds.splits.train),
            ...entriesOf(ds.splits.val),
            ...entriesOf(ds.splits.test),
          ];
          if (split === 'auto') {
            const own =
              meta.datasetRoot !== undefined && meta.heldOut && sameFolder(meta.datasetRoot, ds.root);
            if (own) {
              const held = new Set([...meta.heldOut!.val, ...meta.heldOut!.test]);
              entries = entries.filter((e) => held.has(e.set.files[e.index]!));
              splitName = 'held-out';
            } else splitName = 'all';
          }
        }
        // Labels follow the model's class order; classes the model does not know are left out.
        const toModel = ds.classes.map((c) => meta.classes.indexOf(c));
        entries = entries
          .filter((e) => toModel[e.label]! >= 0)
          .map((e) => ({ ...e, label: toModel[e.label]! }));
        if (!entries.length) {
          throw new ServiceError(
            'failed',
            `No images to evaluate: the ${splitName} split of ${ds.root} has no images of the model's classes (${meta.classes.slice(0, 10).join(', ')}).`,
          );
        }
        const set = viewSet(entries, { height: prep.size, width: prep.size, channels: prep.channels });
        const ood = oodRoot ? await this.oodSet(oodRoot, prep, ctx.signal) : undefined;
        const report = await model.evaluate(set, {
          ...(a.samples ? { samples: a.samples } : {}),
          ...(ood ? { ood } : {}),
          signal: ctx.signal,
          onProgress: (done, total) => ctx.progress({ done, total }, done === total),
        });
        const result: EvaluateResult = {
          model: a.model,
          split: splitName,
          metrics: report.metrics,
          items: report.items,
        };
        if (report.ood) result.ood = report.ood;
        if (report.oodItems) result.oodItems = report.oodItems;
        return result;
      } finally {
        release();
      }
    });
  }

  /** OOD images with the model's preprocessing: a class-folder import, else every image under the folder. */
  private async oodSet(root: string, prep: Preprocessing, signal: AbortSignal): Promise<ExampleSet> {
    try {
      const ds = await this.importFolder(root, {
        imageSize: prep.size,
        fit: prep.fit,
        channels: prep.channels,
        signal,
      });
      if (ds.preprocessing.size === prep.size && ds.preprocessing.channels === prep.channels) {
        const entries = [
          ...entriesOf(ds.splits.train),
          ...entriesOf(ds.splits.val),
          ...entriesOf(ds.splits.test),
        ];
        if (entries.length)
          return viewSet(entries, { height: prep.size, width: prep.size, channels: prep.channels });
      }
    } catch (e) {
      if (signal.aborted) throw e;
      // Not a class-folder layout: fall through to a plain walk.
    }
    const data = await this.data();
    const files: string[] = [];
    const images: PreparedImage[] = [];
    for (const file of await this.walkImages(root, signal)) {
      if (signal.aborted) throw abortError();
      const img = await data.prepareImage(file, prep).catch(() => undefined);
      if (img && img.pixels.length === prep.size * prep.size * prep.channels) {
        files.push(file);
        images.push(img);
      }
    }
    if (!images.length)
      throw new ServiceError('failed', `The OOD folder ${root} has no readable images.`, 'ood');
    return memorySet(files, images, prep);
  }

  // -- prediction -------------------------------------------------------------------------------

  private async startPredict(a: Args<'predict'>): Promise<JobStarted> {
    const meta = await this.modelMeta(a.model);
    const roots: string[] = [];
    for (const [i, p] of (a.paths ?? []).entries()) roots.push(await this.checkPath(p, `paths.${i}`));
    const settings = await this.settings.get();
    return this.startJob('predict', `Predict with ${meta.name}`, async (ctx) => {
      const { model, release } = await this.acquireModel(a.model);
      try {
        const data = await this.data();
        const prep = model.meta?.preprocessing ?? meta.preprocessing;
        const classes = model.meta?.classes ?? meta.classes;
        const pixelsPer = prep.size * prep.size * prep.channels;
        const uncertainAbove = settings.uncertainFraction * Math.log(Math.max(2, classes.length));

        type Input = { file: string; name: string; source: string | Buffer; dropped: boolean };
        const inputs: Input[] = [];
        for (const root of roots) {
          const stat = await fs.stat(root).catch(() => undefined);
          if (stat?.isDirectory()) {
            for (const f of await this.walkImages(root, ctx.signal))
              inputs.push({ file: f, name: nodePath.basename(f), source: f, dropped: false });
          } else inputs.push({ file: root, name: nodePath.basename(root), source: root, dropped: false });
        }
        for (const f of a.files ?? []) {
          inputs.push({ file: f.name, name: f.name, source: Buffer.from(f.base64, 'base64'), dropped: true });
        }
        const total = inputs.length;
        ctx.progress({ done: 0, total }, true);
        let done = 0;
        let errors = 0;
        let flagged = 0;
        for (let start = 0; start < total; start += this.predictBatch) {
          if (ctx.signal.aborted) throw abortError();
          const batch = inputs.slice(start, start + this.predictBatch);
          const prepared = await Promise.all(
            batch.map(async (input) => {
              try {
                const img = await data.prepareImage(input.source, prep);
                if (img.pixels.length !== pixelsPer)
                  throw new Error(`prepared image has ${img.pixels.length} values, expected ${pixelsPer}`);
                return { img };
              } catch (e) {
                return { error: imageErrorMessage(e) };
              }
            }),
          );
          const ok = prepared.flatMap((p, i) => (p.img ? [i] : []));
          const pixels = new Uint8Array(ok.length * pixelsPer);
          ok.forEach((i, k) => pixels.set(prepared[i]!.img!.pixels, k * pixelsPer));
          const predictions = ok.length
            ? await model.predict(pixels, ok.length, a.samples ? { samples: a.samples } : undefined)
            : [];
          const byIndex = new Map(ok.map((i, k) => [i, predictions[k]!]));
          const thumbs = a.thumbnails
            ? await Promise.all(
                batch.map((input) =>
                  this.thumbnailOf(input.source, 96).then(
                    (t) => `data:${t.mime};base64,${t.base64}`,
                    () => undefined,
                  ),
                ),
              )
            : [];
          for (let i = 0; i < batch.length; i++) {
            const input = batch[i]!;
            const row: PredictionRow = {
              file: input.file,
              name: input.name,
              ...(input.dropped ? { dropped: true } : {}),
            };
            const p = byIndex.get(i);
            if (!p) {
              row.error = prepared[i]!.error ?? 'no prediction';
              errors++;
            } else {
              Object.assign(row, {
                label: p.label,
                labelIndex: p.labelIndex,
                confidence: p.confidence,
                probabilities: p.probabilities,
                entropy: p.entropy,
                expectedEntropy: p.expectedEntropy,
                mutualInformation: p.mutualInformation,
                ood: p.ood,
                uncertain: p.entropy > uncertainAbove,
                probs: Object.fromEntries(classes.map((c, k) => [c, p.probabilities[k] ?? 0])),
              });
              if (p.scores) row.scores = p.scores;
              if (p.flag) row.flag = p.flag;
              if (row.ood || row.uncertain) flagged++;
            }
            if (thumbs[i]) row.thumbnail = thumbs[i];
            ctx.item(row);
          }
          done += batch.length;
          ctx.progress({ done, total }, done === total);
        }
        return { count: total, errors, flagged };
      } finally {
        release();
      }
    });
  }

  private async copyPredictions(rows: PredictionRow[], dest: string): Promise<Results['predictions.copy']> {
    const target = this.grants.check(dest, 'dest');
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
      plan.push({ src: this.grants.check(row.file, `rows.${i}.file`), folder });
    });
    await fs.mkdir(target, { recursive: true });
    const folders: Record<string, number> = {};
    let copied = 0;
    for (const { src, folder } of plan) {
      const dir = nodePath.join(target, folder);
      await fs.mkdir(dir, { recursive: true });
      try {
        await copyNoOverwrite(src, dir);
        folders[folder] = (folders[folder] ?? 0) + 1;
        copied++;
      } catch (e) {
        skipped.push({ file: src, reason: toServiceError(e).message });
      }
    }
    return { dest: target, copied, folders, ...(skipped.length ? { skipped } : {}) };
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

function sameFolder(a: string, b: string): boolean {
  const real = (p: string) => {
    try {
      return realpathSync.native(p);
    } catch {
      return nodePath.resolve(p);
    }
  };
  return real(a) === real(b);
}

function imageErrorMessage(e: unknown): string {
  if (e instanceof Error) {
    const reason = (e as Error & { reason?: string }).reason;
    return reason && !e.message.includes(reason) ? `${reason}: ${e.message}` : e.message;
  }
  return String(e);
}

/** A class label as one safe folder name (no separators, no dot-only names). */
export function safeFolderName(label: string): string {
  const s = label
    .replace(/[\\/:*?"<>|\p{Cc}]/gu, '_')
    .trim()
    .slice(0, 100);
  return !s || /^\.+$/.test(s) ? '_unnamed' : s;
}

/** Copy into `dir` under the source's name, adding " (n)" before the extension when taken. */
async function copyNoOverwrite(src: string, dir: string): Promise<string> {
  const ext = nodePath.extname(src);
  const stem = nodePath.basename(src, ext);
  for (let n = 0; n < 10_000; n++) {
    const target = nodePath.join(dir, n === 0 ? `${stem}${ext}` : `${stem} (${n})${ext}`);
    try {
      await fs.copyFile(src, target, fsConstants.COPYFILE_EXCL);
      return target;
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw e;
    }
  }
  throw new ServiceError('conflict', `Too many files named ${stem}${ext} in ${dir}.`);
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

function readPackageVersion(name: string): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    let dir: string;
    if (name === 'rank1-studio') dir = nodePath.dirname(new URL(import.meta.url).pathname);
    else dir = nodePath.dirname(require.resolve(name));
    for (let i = 0; i < 8; i++) {
      try {
        const pkg = require(nodePath.join(dir, 'package.json')) as { name?: string; version?: string };
        if (pkg.name === name) return pkg.version;
      } catch {
        // keep climbing
      }
      const up = nodePath.dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  } catch {
    // not installed
  }
  return undefined;
}

function normalizeThumbnail(raw: unknown): { mime: string; base64: string } | undefined {
  const fromBytes = (b: Uint8Array, mime?: string) => ({
    mime: mime ?? sniffMime(b),
    base64: Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64'),
  });
  if (raw instanceof Uint8Array) return fromBytes(raw);
  if (typeof raw === 'string') {
    const m = /^data:([^;,]+);base64,(.*)$/s.exec(raw);
    return m ? { mime: m[1]!, base64: m[2]! } : { mime: 'image/jpeg', base64: raw };
  }
  if (raw && typeof raw === 'object') {
    const o = raw as { mime?: string; base64?: string; data?: Uint8Array; buffer?: Uint8Array };
    if (typeof o.base64 === 'string') return { mime: o.mime ?? 'image/jpeg', base64: o.base64 };
    const bytes =
      o.data instanceof Uint8Array ? o.data : o.buffer instanceof Uint8Array ? o.buffer : undefined;
    if (bytes) return fromBytes(bytes, o.mime);
  }
  return undefined;
}

function sniffMime(b: Uint8Array): string {
  if (b[0] === 0x89 && b[1] === 0x50) return 'image/png';
  if (b[0] === 0x52 && b[1] === 0x49 && b[8] === 0x57) return 'image/webp';
  return 'image/jpeg';
}

function normalizeScan(root: string, raw: unknown): ScanSummary {
  const r = (raw ?? {}) as Record<string, unknown>;
  const classes: Record<string, number> = {};
  if (Array.isArray(r.classes)) {
    for (const c of r.classes as unknown[]) {
      if (typeof c === 'string') classes[c] = 0;
      else if (c && typeof c === 'object') {
        const o = c as { name?: string; count?: number; files?: unknown[]; images?: number };
        if (o.name) classes[o.name] = o.count ?? o.images ?? o.files?.length ?? 0;
      }
    }
  } else if (r.classes && typeof r.classes === 'object') {
    for (const [k, v] of Object.entries(r.classes))
      classes[k] = typeof v === 'number' ? v : Array.isArray(v) ? v.length : 0;
  }
  const skippedRaw = (
    Array.isArray(r.skipped) ? r.skipped : Array.isArray(r.errors) ? r.errors : []
  ) as unknown[];
  const skipped = skippedRaw.map((s) => {
    const o = (s ?? {}) as { file?: string; reason?: string; message?: string };
    return { file: String(o.file ?? ''), reason: String(o.reason ?? o.message ?? 'skipped') };
  });
  // Count per class from the file list when the scan lists files with labels.
  if (Array.isArray(r.files) && Object.values(classes).every((n) => n === 0)) {
    for (const f of r.files as { label?: unknown }[]) {
      if (typeof f?.label === 'string') classes[f.label] = (classes[f.label] ?? 0) + 1;
    }
  }
  const counted = Object.values(classes).reduce((a, b) => a + b, 0);
  const images =
    typeof r.images === 'number'
      ? r.images
      : typeof r.total === 'number'
        ? r.total
        : Array.isArray(r.files)
          ? r.files.length
          : counted;
  return {
    root: typeof r.root === 'string' ? r.root : root,
    classes,
    givenSplits: typeof r.givenSplits === 'boolean' ? r.givenSplits : !!r.splits,
    images,
    skipped,
  };
}

function normalizeDataset(raw: unknown): DatasetSummary | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const r = raw as Record<string, unknown>;
  if (typeof r.id !== 'string' || typeof r.root !== 'string') return undefined;
  const classes = Array.isArray(r.classes)
    ? (r.classes as unknown[]).map((c) =>
        typeof c === 'string' ? c : String((c as { name?: string })?.name ?? c),
      )
    : [];
  let images = typeof r.images === 'number' ? r.images : typeof r.count === 'number' ? r.count : 0;
  if (!images && r.splits && typeof r.splits === 'object') {
    for (const s of Object.values(r.splits as Record<string, unknown>)) {
      const v = s as { count?: number; files?: unknown[] } | number;
      images += typeof v === 'number' ? v : (v?.count ?? v?.files?.length ?? 0);
    }
  }
  const importedAt =
    typeof r.importedAt === 'string' ? r.importedAt : typeof r.createdAt === 'string' ? r.createdAt : '';
  return {
    id: r.id,
    root: r.root,
    images,
    classes,
    preprocessing: r.preprocessing as Preprocessing,
    importedAt,
    ...(r.report ? { report: r.report as DatasetSummary['report'] } : {}),
  };
}

export function createService(opts: ServiceOptions = {}): Service {
  return new Service(opts);
}
