/**
 * Models on disk as the service sees them: their metadata with typed errors, and a small LRU of
 * loaded engine models shared by evaluate and predict (freed once the last user releases it).
 */
import { ServiceError } from '../contract.js';
import { getModel, modelDir, modelExists, readModelFolder, type ModelMeta } from '../store/index.js';
import { modelLoadError } from './errors.js';
import type { EngineApi, EngineModel } from './ports.js';

const MODEL_CACHE_SIZE = 2;

interface CachedModel {
  model: Promise<EngineModel>;
  users: number;
  evicted: boolean;
}

export class ModelCache {
  private readonly models = new Map<string, CachedModel>();

  constructor(
    private readonly home: string,
    private readonly readyEngine: () => Promise<EngineApi>,
  ) {}

  /** Typed error for a model that is absent or cannot be read. */
  async meta(id: string): Promise<ModelMeta> {
    if (!(await modelExists(this.home, id))) {
      throw new ServiceError('not-found', `No model "${id}"; models.list shows the models you have.`, 'id');
    }
    try {
      return await getModel(this.home, id);
    } catch (e) {
      throw modelLoadError(id, e);
    }
  }

  /** A loaded model from the LRU cache; call `release` when done with it. */
  async acquire(id: string): Promise<{ model: EngineModel; release: () => void }> {
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
          throw modelLoadError(id, e);
        }
      })();
      entry = { model, users: 0, evicted: false };
      this.models.set(id, entry);
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

  evict(id: string): void {
    const entry = this.models.get(id);
    if (!entry) return;
    this.models.delete(id);
    entry.evicted = true;
    if (entry.users === 0) void entry.model.then((m) => m.dispose()).catch(() => undefined);
  }

  evictAll(): void {
    for (const [id] of this.models) this.evict(id);
  }
}
