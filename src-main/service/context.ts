/**
 * What every operation family reads from the service: its home, grants, settings, jobs, model
 * cache, dataset catalog and the lazily loaded rooms. Built once by `Service`.
 */
import type { Settings } from '../contract.js';
import type { FreeSpace } from '../data/disk-space.js';
import type { PathGrants, SettingsStore } from '../store/index.js';
import type { DatasetCatalog } from './datasets.js';
import type { JobRunner } from './jobs.js';
import type { ModelCache } from './model-cache.js';
import type { DataApi, EngineApi } from './ports.js';

export interface ServiceContext {
  readonly home: string;
  readonly grants: PathGrants;
  readonly settings: SettingsStore<Settings>;
  readonly clock: () => number;
  /** Images per `model.predict` call. */
  readonly predictBatch: number;
  readonly jobs: JobRunner;
  readonly models: ModelCache;
  readonly datasets: DatasetCatalog;
  /** Model id → job id of the training writing it. */
  readonly training: Map<string, string>;
  /** Engine with its backend initialised as the settings ask (again after a change). */
  readyEngine(): Promise<EngineApi>;
  data(): Promise<DataApi>;
  /** The disk's free space as bulk writes see it (ServiceOptions.freeSpace; data/disk-space.ts's statfs when absent). */
  readonly freeSpace?: FreeSpace;
}
