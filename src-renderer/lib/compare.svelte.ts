/** Compare: queue a `compare.start` job over the chosen methods, keep its result for the table and diagrams. */
import {
  METHODS,
  measuredFolders,
  type CompareResult,
  type Method,
  type OperationArgs,
  type SourceFolder,
} from '../../src-main/contract.js';
import type { AppState } from './app.svelte.js';
import { errorText } from './client.js';
import { bestPerColumn, compareCsv } from './compare.js';
import { download } from './files.js';

export class CompareState {
  dataset = $state('');
  /** Ticked methods, kept in the engine's order. */
  methods = $state<Method[]>(['rank1', 'deterministic']);
  epochs = $state<number | null>(null);
  arch = $state<'auto' | 'mlp' | 'cnn' | 'resnet20'>('auto');
  ood = $state('');
  seed = $state<number | null>(null);
  jobId = $state<string | null>(null);
  result = $state.raw<CompareResult | null>(null);
  /** The dataset and OOD folders the result read (its left-out files name theirs). */
  resultFolders = $state.raw<SourceFolder[]>([]);
  error = $state<string | null>(null);
  notice = $state<string | null>(null);

  job = $derived.by(() => this.app.jobs.get(this.jobId ?? undefined));
  running = $derived(this.job?.state === 'running');
  best = $derived(this.result ? bestPerColumn(this.result.rows) : {});

  constructor(private app: AppState) {}

  /** A window reopened while a comparison runs: show it, and its table when it finishes. */
  adoptRunning(): void {
    const [latest] = this.app.jobs.running('compare');
    if (!latest || (this.jobId && this.app.jobs.get(this.jobId)?.state === 'running')) return;
    const jobId = (this.jobId = latest.jobId);
    this.app.jobs.waitFor<CompareResult>(jobId).then(
      (result) => {
        if (this.jobId === jobId) this.result = result;
      },
      (err: unknown) => {
        if (this.jobId === jobId) this.error = errorText(err);
      },
    );
  }

  toggle(method: Method, on: boolean): void {
    const ticked = (m: Method) => (m === method ? on : this.methods.includes(m));
    this.methods = METHODS.filter(ticked);
  }

  async run(): Promise<void> {
    this.error = null;
    this.notice = null;
    const dataset = this.dataset || this.app.newestDataset?.id;
    if (!dataset)
      return void (this.error = 'Choose a dataset to compare on (import one under Datasets first).');
    if (!this.methods.length) return void (this.error = 'Tick at least one method to compare.');
    const args: OperationArgs<'compare.start'> = {
      dataset,
      methods: this.methods,
      ...(this.epochs ? { epochs: this.epochs } : {}),
      ...(this.arch !== 'auto' ? { arch: this.arch } : {}),
      ...(this.seed !== null ? { seed: this.seed } : {}),
      ...(this.ood.trim() ? { ood: this.ood.trim() } : {}),
    };
    try {
      this.jobId = await this.app.jobs.start(this.app.client, 'compare.start', args);
      const root = this.app.datasets.find((d) => d.id === dataset)?.root;
      this.result = await this.app.jobs.waitFor<CompareResult>(this.jobId);
      this.resultFolders = measuredFolders(root ?? this.result?.dataset, args.ood);
    } catch (err) {
      this.error = errorText(err);
    }
  }

  async cancel(): Promise<void> {
    this.error = (await this.app.cancelJob(this.jobId)) ?? this.error;
  }

  exportCsv(): void {
    if (!this.result) return;
    download('comparison.csv', compareCsv(this.result.rows));
    this.notice = `Exported ${this.result.rows.length} row(s) to comparison.csv.`;
  }
}
