/** The application's root state: connection, system info, settings, models, datasets, jobs. */
import {
  defaultSettings,
  type DatasetSummary,
  type ModelSummary,
  type ServiceClient,
  type ServiceEvent,
  type Settings,
  type SystemInfo,
} from '../../src-main/contract.js';
import { errorText, type Platform } from './client.js';
import { JobsState } from './jobs.svelte.js';
import { PredictState } from './predict.svelte.js';
import { DatasetsState } from './datasets.svelte.js';
import { TrainState } from './train.svelte.js';
import { EvaluateState } from './evaluate.svelte.js';
import { CompareState } from './compare.svelte.js';
import { ModelsState } from './models.svelte.js';

export type View = 'datasets' | 'train' | 'evaluate' | 'compare' | 'predict' | 'models';
export const views: { id: View; label: string }[] = [
  { id: 'datasets', label: 'Datasets' },
  { id: 'train', label: 'Train' },
  { id: 'evaluate', label: 'Evaluate' },
  { id: 'compare', label: 'Compare' },
  { id: 'predict', label: 'Predict' },
  { id: 'models', label: 'Models' },
];

export function viewFromHash(hash: string): View | null {
  const id = hash.replace(/^#\/?/, '');
  return views.some((v) => v.id === id) ? (id as View) : null;
}

/** "NVIDIA H100 80GB HBM3" for a GPU, "CPU (wasm)" for the CPU backends. */
export function deviceLabel(backend: { name: string; device: string } | null | undefined): string {
  if (!backend) return 'not started yet';
  if (backend.name === 'wasm' || backend.name === 'cpu') return `CPU (${backend.name})`;
  return backend.device || backend.name;
}

/**
 * The model Predict uses: the chosen one, else the newest finished one (not the demo), else the
 * demo. An incomplete checkpoint is used only when chosen (the store's `defaultModel` rule).
 */
export function pickModel(
  models: readonly ModelSummary[],
  selected: string | null,
): ModelSummary | undefined {
  const chosen = selected ? models.find((m) => m.id === selected) : undefined;
  if (chosen) return chosen;
  const byNewest = models
    .filter((m) => m.status !== 'incomplete')
    .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
  return byNewest.find((m) => !m.demo) ?? byNewest[0];
}

/**
 * One entry per folder, the newest import of each: a folder evaluated with a model of another
 * image size is imported again at that size, which must not list the folder twice (issue 15).
 */
export function onePerFolder(datasets: readonly DatasetSummary[]): DatasetSummary[] {
  const time = (d: DatasetSummary) => Date.parse(d.importedAt);
  return datasets.filter(
    (d, i) =>
      !datasets.some((o, j) => o.root === d.root && (time(o) > time(d) || (time(o) === time(d) && j > i))),
  );
}

/** The most recently imported dataset: the default for Train and Evaluate. */
export function newestDataset(datasets: readonly DatasetSummary[]): DatasetSummary | undefined {
  return [...datasets].sort((a, b) => Date.parse(b.importedAt) - Date.parse(a.importedAt))[0];
}

export class AppState {
  view = $state<View>('datasets');
  info = $state.raw<SystemInfo | null>(null);
  settings = $state.raw<Settings>(defaultSettings);
  models = $state.raw<ModelSummary[]>([]);
  datasets = $state.raw<DatasetSummary[]>([]);
  selectedModelId = $state<string | null>(null);
  error = $state<string | null>(null);
  ready = $state(false);
  /** Backend seen in a training's start event, newer than `info` until it is refreshed. */
  liveBackend = $state.raw<{ name: string; device: string } | null>(null);

  readonly jobs: JobsState;
  readonly predict: PredictState;
  readonly data: DatasetsState;
  readonly train: TrainState;
  readonly evaluate: EvaluateState;
  readonly compare: CompareState;
  readonly modelsView: ModelsState;

  activeModel = $derived(pickModel(this.models, this.selectedModelId));
  backend = $derived(this.liveBackend ?? this.info?.backend ?? null);
  device = $derived(deviceLabel(this.backend));
  theme = $derived(this.settings.theme);
  newestDataset = $derived(newestDataset(this.datasets));

  private off?: () => void;
  private modelsFetched!: () => void;
  /** Resolves once the first model list arrived (or init failed): a drop right at start waits for it. */
  readonly modelsLoaded = new Promise<void>((resolve) => (this.modelsFetched = resolve));

  constructor(
    readonly client: ServiceClient,
    readonly platform: Platform,
    now: () => number = () => Date.now(),
  ) {
    this.jobs = new JobsState(now);
    this.predict = new PredictState(this);
    this.data = new DatasetsState(this);
    this.train = new TrainState(this);
    this.evaluate = new EvaluateState(this);
    this.compare = new CompareState(this);
    this.modelsView = new ModelsState(this);
  }

  onEvent = (e: ServiceEvent): void => {
    this.jobs.apply(e);
    if (e.type === 'job.item') this.predict.accept(e.item);
    if (e.type === 'job.progress' && e.kind === 'train') {
      const p = e.progress as { type?: string; backend?: string; device?: string };
      if (p.type === 'start' && p.backend) this.liveBackend = { name: p.backend, device: p.device ?? '' };
    }
    if (e.type === 'job.done' && (e.kind === 'train' || e.kind === 'import')) {
      void (e.kind === 'train' ? this.refreshModels() : this.refreshDatasets());
    }
    // A cancelled or failed run may leave an incomplete checkpoint: list it (marked, never picked).
    if ((e.type === 'job.cancelled' || e.type === 'job.failed') && e.kind === 'train')
      void this.refreshModels().catch(() => {});
    if (e.type === 'engine.restarted')
      this.error = `The engine restarted (${e.reason}). Running jobs were stopped; start them again.`;
  };

  async init(): Promise<void> {
    this.off?.();
    this.off = this.client.on(this.onEvent);
    try {
      const [info, settings] = await Promise.all([
        this.client.call('system.info', {}),
        this.client.call('settings.get', {}),
      ]);
      this.info = info;
      this.settings = settings;
      await Promise.all([this.refreshModels(), this.refreshDatasets(), this.restoreJobs()]);
      // Optional: the backbone choice falls back to the presets' own when the list cannot be read.
      void this.train.loadBackbones().catch(() => {});
      this.error = null;
    } catch (err) {
      this.error = `Could not reach the service: ${errorText(err)}`;
    } finally {
      this.ready = true;
      this.modelsFetched();
    }
  }

  dispose(): void {
    this.off?.();
    this.predict.dispose();
  }

  async restoreJobs(): Promise<void> {
    const [jobs, training] = await Promise.all([
      this.client.call('jobs.list', {}).catch(() => []),
      this.client.call('train.status', {}).catch(() => []),
    ]);
    this.jobs.restore([...jobs, ...training]);
    this.train.adoptRunning();
    this.compare.adoptRunning();
  }

  async refreshModels(): Promise<void> {
    this.models = await this.client.call('models.list', {});
    this.modelsFetched();
  }

  async refreshDatasets(): Promise<void> {
    this.datasets = await this.client.call('datasets.list', {});
  }

  /** Ask the service to stop a job (its own events then say it stopped); a refusal's words, or null. */
  async cancelJob(jobId: string | null | undefined): Promise<string | null> {
    if (!jobId) return null;
    try {
      await this.client.call('jobs.cancel', { jobId });
      return null;
    } catch (err) {
      return errorText(err);
    }
  }

  async refreshInfo(): Promise<void> {
    this.info = await this.client.call('system.info', {});
    this.liveBackend = null;
  }

  async setTheme(theme: Settings['theme']): Promise<void> {
    this.settings = { ...this.settings, theme };
    try {
      this.settings = await this.client.call('settings.set', { theme });
    } catch (err) {
      this.error = `Could not save the theme: ${errorText(err)}`;
    }
  }

  /** Show a view; the hash follows, so the navigation links and the back button stay in step. */
  go(view: View): void {
    this.view = view;
    if (typeof location !== 'undefined' && viewFromHash(location.hash) !== view) location.hash = `#/${view}`;
  }
}
