/**
 * The service: every contract operation, independent of any transport (Electron IPC, the
 * `rank1 serve` WebSocket and the direct transport all wrap one of these). It owns jobs, path
 * grants, the model cache and settings; the engine and the data room are injected (real ones
 * loaded lazily). This file holds the handler table; each operation family has its own file.
 */
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import {
  DEFAULT_PREDICT_BATCH,
  ServiceError,
  defaultSettings,
  listeners,
  parseArgs,
  settingsSchema,
  type OperationHandlers,
  type PredictionRow,
  type Results,
  type ServiceEvent,
  type ServiceHandler,
  type Settings,
} from '../contract.js';
import { installDemoModel } from '../store/demo.js';
import {
  PathGrants,
  SettingsStore,
  listModels,
  modelExists,
  removeModel,
  renameModel,
  setFlagScoreAt,
  type ModelMeta,
} from '../store/index.js';
import type { FreeSpace } from '../data/disk-space.js';
import { startCompare } from './compare.js';
import type { ServiceContext } from './context.js';
import { DatasetCatalog, datasetFiles, removeDataset, scanDataset, startImport } from './datasets.js';
import { toServiceError } from './errors.js';
import { startEvaluate } from './evaluate.js';
import { copyPredictions, exportModel, importModelFrom, predictionsCsv } from './exports.js';
import { JobRunner } from './jobs.js';
import { ModelCache, toSummary } from './model-cache.js';
import type { DataApi, EngineApi } from './ports.js';
import { startPredict } from './predict.js';
import { importBackboneFrom, listBackbones } from './backbones.js';
import { beginUpload, finishUpload, uploadChunk } from './uploads.js';
import { refuseWhileTraining, startTraining } from './train.js';

export type * from './ports.js';
export { toServiceError } from './errors.js';
export { predictionsCsv, safeFolderName } from './exports.js';

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
  /** The backend for this service only, over the saved setting (the CLI's `--backend`). */
  backend?: Settings['backend'];
  /** Minimum milliseconds between two `step` progress events of one job. */
  progressIntervalMs?: number;
  /**
   * The app's resources folder: on first start the demo model under `resources/demo` is installed
   * (issue 5). Off unless given, so tests start with an empty home.
   */
  resourcesDir?: string;
  /**
   * Free bytes on the disk of a folder, which every write of bulk data checks first (model and
   * backbone imports, uploads, training's checkpoints, the demo); the real disk's by default.
   */
  freeSpace?: FreeSpace;
}

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

export class Service implements ServiceHandler {
  readonly home: string;
  readonly grants: PathGrants;
  // A broken listener (a closed window) must not stop the others or the job.
  private readonly listeners = listeners<ServiceEvent>();
  private readonly settings: SettingsStore<Settings>;
  private readonly clock: () => number;
  private readonly jobs: JobRunner;
  private readonly models: ModelCache;
  private readonly ctx: ServiceContext;
  private enginePromise: Promise<EngineApi> | undefined;
  private dataPromise: Promise<DataApi> | undefined;
  private backendFor: string | undefined;
  private disposed = false;
  private readonly handlers: OperationHandlers;

  private demoInstalled?: Promise<boolean>;

  constructor(private readonly opts: ServiceOptions = {}) {
    this.home = nodePath.resolve(opts.home ?? opts.data?.dataHome?.() ?? defaultHome());
    // Created up front (sync: a constructor) so the grant below resolves to its real path.
    mkdirSync(this.home, { recursive: true });
    this.grants = opts.grants ?? new PathGrants();
    this.grants.grant(this.home);
    this.settings = new SettingsStore(this.home, { schema: settingsSchema, defaults: defaultSettings });
    this.clock = opts.clock ?? Date.now;
    if (opts.engine) this.enginePromise = Promise.resolve(opts.engine);
    if (opts.data) this.dataPromise = Promise.resolve(opts.data);
    this.jobs = new JobRunner((e) => this.emit(e), this.clock, opts.progressIntervalMs ?? 100);
    this.models = new ModelCache(this.home, this.grants, () => this.readyEngine());
    this.ctx = {
      home: this.home,
      grants: this.grants,
      settings: this.settings,
      clock: this.clock,
      predictBatch: opts.predictBatch ?? DEFAULT_PREDICT_BATCH,
      jobs: this.jobs,
      models: this.models,
      datasets: new DatasetCatalog(this.grants, this.settings, this.clock, () => this.data(), opts.freeSpace),
      training: new Map(),
      readyEngine: () => this.readyEngine(),
      data: () => this.data(),
      freeSpace: opts.freeSpace,
    };
    this.handlers = this.makeHandlers();
  }

  // -- ServiceHandler ---------------------------------------------------------------------------

  async call(op: string, args: unknown): Promise<unknown> {
    try {
      if (this.disposed) throw new ServiceError('unsupported', 'The service has shut down; restart the app.');
      // First start: the demo model is there before the UI lists models (a failure installs nothing).
      if (this.opts.resourcesDir)
        await (this.demoInstalled ??= installDemoModel(this.home, this.opts.resourcesDir, {
          freeSpace: this.opts.freeSpace,
        }).catch(() => false));
      const parsed = parseArgs(op, args);
      const handler = this.handlers[parsed.op] as (a: unknown) => Promise<unknown>;
      return await handler(parsed.args);
    } catch (e) {
      throw toServiceError(e);
    }
  }

  subscribe(listener: (e: ServiceEvent) => void): () => void {
    return this.listeners.add(listener);
  }

  /** Privileged (not an operation): the user picked or dropped this path. */
  grant(p: string): void {
    try {
      this.grants.grant(p);
    } catch (e) {
      throw toServiceError(e);
    }
  }

  /** Cancel running jobs, free loaded models, drop listeners. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.jobs.abortAll();
    this.models.evictAll();
    this.listeners.clear();
  }

  // -- plumbing ---------------------------------------------------------------------------------

  private emit(e: ServiceEvent): void {
    this.listeners.emit(e);
  }

  private engine(): Promise<EngineApi> {
    return (this.enginePromise ??= this.loadRoom<EngineApi>(
      () => import('../engine/index.js'),
      'The training engine',
      () => (this.enginePromise = undefined),
    ));
  }

  private data(): Promise<DataApi> {
    return (this.dataPromise ??= this.loadRoom<DataApi>(
      () => import('../data/index.js'),
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
    const wanted = this.opts.backend ?? (await this.settings.get()).backend;
    if (engine.initBackend && this.backendFor !== wanted) {
      await engine.initBackend(wanted);
      this.backendFor = wanted;
    }
    return engine;
  }

  // -- operations -------------------------------------------------------------------------------

  private makeHandlers(): OperationHandlers {
    const ctx = this.ctx;
    return {
      'system.info': () => this.systemInfo(),

      'datasets.scan': (a) => scanDataset(ctx, a),
      'datasets.import': (a) => startImport(ctx, a),
      'datasets.list': () => ctx.datasets.list(),
      'datasets.remove': (a) => removeDataset(ctx, a),
      'datasets.files': (a) => datasetFiles(ctx, a),
      'datasets.thumbnail': async ({ file, size }) =>
        ctx.datasets.thumbnailOf(await ctx.datasets.checkPath(file, 'file'), size ?? 128),

      'train.start': (a) => startTraining(ctx, a),
      'train.status': async () => this.jobs.list('train'),
      'compare.start': (a) => startCompare(ctx, a),
      'jobs.list': async () => this.jobs.list(),
      'jobs.cancel': async ({ jobId }) => this.jobs.cancel(jobId),

      'models.list': async () => {
        const { models } = await listModels(this.home);
        // Broken folders are skipped here; models.get on one says what is wrong with it.
        return models.map(toSummary);
      },
      'models.get': async ({ id }) => toSummary(await this.models.meta(id)),
      'models.rename': async ({ id, name }) => {
        await this.models.meta(id);
        refuseWhileTraining(ctx, id);
        return toSummary(await renameModel(this.home, id, name));
      },
      'models.setFlag': async ({ id: ref, score }) => {
        const { id, dir } = await this.models.locate(ref);
        await this.models.meta(ref);
        refuseWhileTraining(ctx, id);
        let meta: ModelMeta;
        try {
          meta = { ...(await setFlagScoreAt(dir, score)), id };
        } catch (e) {
          throw new ServiceError('failed', (e as Error).message, 'score');
        }
        this.models.evict(dir);
        return toSummary(meta);
      },
      'models.remove': async ({ id }) => {
        if (!(await modelExists(this.home, id)))
          throw new ServiceError('not-found', `No model "${id}".`, 'id');
        refuseWhileTraining(ctx, id);
        this.models.evict(id);
        await removeModel(this.home, id);
        return { removed: id };
      },
      'models.export': (a) => exportModel(ctx, a, readPackageVersion('rank1-studio')),
      'models.import': (a) => importModelFrom(ctx, a),
      'backbones.import': (a) => importBackboneFrom(ctx, a),
      'backbones.list': () => listBackbones(ctx),
      'uploads.begin': (a) => beginUpload(ctx, a),
      'uploads.chunk': (a) => uploadChunk(ctx, a),
      'uploads.finish': (a) => finishUpload(ctx, a),

      evaluate: (a) => startEvaluate(ctx, a),
      predict: (a) => startPredict(ctx, a),

      'predictions.csv': async ({ rows }) => ({ csv: predictionsCsv(rows as PredictionRow[]) }),
      'predictions.copy': (a) => copyPredictions(ctx, a.rows as PredictionRow[], a.dest),

      'settings.get': () => this.settings.get(),
      'settings.set': (patch) => this.settings.set(patch),
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

export function createService(opts: ServiceOptions = {}): Service {
  return new Service(opts);
}
