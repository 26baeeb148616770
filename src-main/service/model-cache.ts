/**
 * Models on disk as the service sees them: their metadata with typed errors, and a small LRU of
 * loaded engine models shared by evaluate and predict (freed once the last user releases it).
 */
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { ServiceError, type ModelSummary } from '../contract.js';
import {
  modelDir,
  modelExists,
  readModelFolder,
  readModelMeta,
  toSummary as storeSummary,
  type ModelMeta,
  type PathGrants,
} from '../store/index.js';
import { modelLoadError } from './errors.js';
import type { EngineApi, EngineModel } from './ports.js';

const MODEL_CACHE_SIZE = 2;

interface CachedModel {
  model: Promise<EngineModel>;
  users: number;
  evicted: boolean;
}

/** Where a model reference (an id in the data home, or a granted folder) lives. */
export interface ModelLocation {
  /** The folder name: the id the summary reports. */
  id: string;
  dir: string;
}

export class ModelCache {
  /** Loaded models by folder. */
  private readonly models = new Map<string, CachedModel>();

  constructor(
    private readonly home: string,
    private readonly grants: PathGrants,
    private readonly readyEngine: () => Promise<EngineApi>,
  ) {}

  /** An id in the data home, else an absolute folder path inside the grants. */
  async locate(ref: string, field = 'id'): Promise<ModelLocation> {
    if (!/[\\/]/.test(ref)) {
      if (!(await modelExists(this.home, ref)))
        throw new ServiceError(
          'not-found',
          `No model "${ref}"; models.list shows the models you have.`,
          field,
        );
      return { id: ref, dir: modelDir(this.home, ref) };
    }
    const dir = this.grants.check(ref, field);
    // A typo or a moved folder: say so, not "cannot be loaded … train it again".
    if (
      !(await fs.stat(dir).then(
        (st) => st.isDirectory(),
        () => false,
      ))
    )
      throw new ServiceError('not-found', `No model folder at ${dir}.`, field);
    return { id: nodePath.basename(dir), dir };
  }

  /** Typed error for a model that is absent or cannot be read. */
  async meta(ref: string, field = 'id'): Promise<ModelMeta> {
    const { id, dir } = await this.locate(ref, field);
    try {
      return { ...(await readModelMeta(dir)), id };
    } catch (e) {
      throw modelLoadError(ref, e);
    }
  }

  /** A loaded model from the LRU cache; call `release` when done with it. */
  async acquire(ref: string): Promise<{ model: EngineModel; release: () => void }> {
    const { dir } = await this.locate(ref, 'model');
    const id = ref;
    let entry = this.models.get(dir);
    if (entry) {
      this.models.delete(dir);
      this.models.set(dir, entry);
    } else {
      const model = (async () => {
        try {
          // Verify size and SHA-256 here, whatever the engine checks, so damage is reported as such.
          await readModelFolder(dir);
          const engine = await this.readyEngine();
          return await engine.loadModel(dir);
        } catch (e) {
          throw modelLoadError(id, e);
        }
      })();
      entry = { model, users: 0, evicted: false };
      this.models.set(dir, entry);
      for (const old of [...this.models.keys()].slice(0, Math.max(0, this.models.size - MODEL_CACHE_SIZE)))
        this.evict(old);
    }
    const cached = entry;
    cached.users++;
    let model: EngineModel;
    try {
      model = await cached.model;
    } catch (e) {
      cached.users--;
      if (this.models.get(dir) === cached) this.models.delete(dir);
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

  /** Forget a loaded model (its folder is about to change): by id in the data home, or by folder. */
  evict(ref: string): void {
    const dir = /[\\/]/.test(ref) ? ref : modelDir(this.home, ref);
    const entry = this.models.get(dir);
    if (!entry) return;
    this.models.delete(dir);
    entry.evicted = true;
    if (entry.users === 0) void entry.model.then((m) => m.dispose()).catch(() => undefined);
  }

  evictAll(): void {
    for (const [dir] of this.models) this.evict(dir);
  }
}

/**
 * A model's metadata as the contract shows it (what `models.*` and `train` answer): the store's
 * listing, with the folder the model was trained on (Evaluate's default dataset).
 */
export function toSummary(meta: ModelMeta): ModelSummary {
  return { ...storeSummary(meta), ...(meta.datasetRoot ? { datasetRoot: meta.datasetRoot } : {}) };
}
