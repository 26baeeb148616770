/** Datasets: scan a folder, import it with settings, browse what was imported. */
import { SvelteMap } from 'svelte/reactivity';
import {
  DEFAULT_VAL_FRACTION,
  type DatasetSummary,
  type ScanSummary,
  type ServiceClient,
} from '../../src-main/contract.js';
import type { AppState } from './app.svelte.js';
import { errorText } from './client.js';
import { fileToBase64, type RelativeFile } from './files.js';

/** Bytes per `uploads.chunk` message (about 1.4 MB as base64: far below the server's limits). */
export const UPLOAD_CHUNK = 1024 * 1024;

/**
 * The import report's cross-class duplicates (the same image under two labels), each with the
 * classes it appears in: the class folder under the root (under train/val/test with given splits).
 * Duplicates within one class are harmless and not listed.
 */
export function labelConflicts(ds: DatasetSummary | null | undefined): { file: string; classes: string[] }[] {
  const report = ds?.report;
  if (!report) return [];
  const classOf = (file: string): string | undefined => {
    const rel = file.startsWith(ds.root) ? file.slice(ds.root.length) : file;
    const parts = rel.split(/[\\/]/).filter(Boolean);
    return parts[report.givenSplits ? 1 : 0];
  };
  return report.duplicates
    .filter((d) => d.crossClass)
    .map((d) => ({
      file: d.files.join(', '),
      classes: d.files
        .map(classOf)
        .filter((c, i, all): c is string => c !== undefined && all.indexOf(c) === i),
    }));
}

/** Paged file listing plus thumbnails for one dataset/class, fetched only for what is on screen. */
export class ThumbSource {
  total = $state(0);
  files = new SvelteMap<number, { file: string; className: string }>();
  thumbs = new SvelteMap<string, string>();
  error = $state<string | null>(null);
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- bookkeeping, never rendered
  private pages = new Set<number>();
  private queue: string[] = [];
  private active = 0;

  constructor(
    private client: ServiceClient,
    readonly datasetId: string,
    readonly className: string | undefined,
    private pageSize = 200,
    private size = 96,
  ) {}

  async start(): Promise<void> {
    await this.loadPage(0);
  }

  /** Make sure [from, to) has names and thumbnails, fetching pages and images as needed. */
  ensure(from: number, to: number): void {
    for (
      let p = Math.floor(from / this.pageSize);
      p * this.pageSize < Math.min(to, Math.max(this.total, 1));
      p++
    )
      void this.loadPage(p);
    const want: string[] = [];
    for (let i = from; i < to; i++) {
      const f = this.files.get(i);
      if (f && !this.thumbs.has(f.file)) want.push(f.file);
    }
    // Newest request first: what is on screen now matters more than what scrolled past.
    this.queue = [...want, ...this.queue.filter((q) => !want.includes(q))].slice(0, 200);
    this.pump();
  }

  private async loadPage(p: number): Promise<void> {
    if (this.pages.has(p)) return;
    this.pages.add(p);
    try {
      const r = await this.client.call('datasets.files', {
        id: this.datasetId,
        ...(this.className ? { className: this.className } : {}),
        offset: p * this.pageSize,
        limit: this.pageSize,
      });
      this.total = r.total;
      r.files.forEach((f, i) => this.files.set(p * this.pageSize + i, f));
    } catch (err) {
      this.pages.delete(p);
      this.error = errorText(err);
    }
  }

  private pump(): void {
    while (this.active < 6 && this.queue.length) {
      const file = this.queue.shift()!;
      if (this.thumbs.has(file)) continue;
      this.active++;
      this.client
        .call('datasets.thumbnail', { file, size: this.size })
        .then((t) => this.thumbs.set(file, `data:${t.mime};base64,${t.base64}`))
        .catch(() => this.thumbs.set(file, ''))
        .finally(() => {
          this.active--;
          this.pump();
        });
    }
  }
}

export class DatasetsState {
  path = $state('');
  scan = $state.raw<ScanSummary | null>(null);
  scanning = $state(false);
  error = $state<string | null>(null);
  imageSize = $state<number | null>(null);
  fit = $state<'cover' | 'contain'>('cover');
  valFraction = $state(DEFAULT_VAL_FRACTION);
  testFraction = $state(0.1);
  importJobId = $state<string | null>(null);
  importError = $state<string | null>(null);
  /** The dataset being browsed (id). */
  selectedId = $state<string | null>(null);
  browseClass = $state<string>('');

  /** An upload in progress: bytes sent of all. */
  upload = $state<{ done: number; total: number; file?: string } | null>(null);
  /** The last import's summary: its report (skipped files with reasons) is not in `datasets.list`. */
  lastImport = $state.raw<DatasetSummary | null>(null);

  importJob = $derived.by(() => this.app.jobs.get(this.importJobId ?? undefined));
  /** The selected dataset's import report, when this session imported it. */
  report = $derived.by(
    () =>
      this.selected?.report ??
      (this.lastImport && this.lastImport.id === this.selectedId ? this.lastImport.report : undefined),
  );
  selected = $derived.by<DatasetSummary | undefined>(() =>
    this.app.datasets.find((d) => d.id === this.selectedId),
  );
  classCounts = $derived.by(() => {
    if (this.scan) return Object.entries(this.scan.classes).map(([name, count]) => ({ name, count }));
    return [];
  });

  constructor(private app: AppState) {}

  async doScan(path = this.path): Promise<void> {
    this.path = path.trim();
    this.error = null;
    if (!this.path) {
      this.error = 'Type the path of a folder on the server that holds one sub-folder per class.';
      return;
    }
    this.scanning = true;
    try {
      this.scan = await this.app.client.call('datasets.scan', { path: this.path });
    } catch (err) {
      this.scan = null;
      this.error = errorText(err);
    } finally {
      this.scanning = false;
    }
  }

  async pickFolder(): Promise<void> {
    const pick = this.app.platform.pickFolder;
    if (!pick) return;
    const p = await pick();
    if (p) await this.doScan(p);
  }

  async doImport(): Promise<void> {
    this.importError = null;
    if (!this.path.trim()) {
      this.importError = 'Choose a folder first.';
      return;
    }
    try {
      const jobId = await this.app.jobs.start(this.app.client, 'datasets.import', {
        path: this.path.trim(),
        ...(this.imageSize !== null ? { imageSize: this.imageSize } : {}),
        fit: this.fit,
        valFraction: this.valFraction,
        testFraction: this.testFraction,
      });
      this.importJobId = jobId;
      const summary = await this.app.jobs.waitFor<DatasetSummary>(jobId);
      this.lastImport = summary ?? null;
      await this.app.refreshDatasets();
      this.selectedId = summary?.id ?? null;
    } catch (err) {
      this.importError = errorText(err);
    }
  }

  /**
   * Browser upload (`rank1 serve`): picked or dropped files, with their folder paths, are sent in
   * chunks into a new folder under the server's data home, then scanned and imported.
   */
  async uploadFiles(files: readonly (File | RelativeFile)[]): Promise<void> {
    this.error = null;
    this.importError = null;
    const list = files
      .map((x) =>
        x instanceof File
          ? { f: x, rel: (x as File & { webkitRelativePath?: string }).webkitRelativePath || x.name }
          : { f: x.file, rel: x.rel },
      )
      // Hidden files (.DS_Store, ._x) are system litter: the scan would ignore them anyway.
      .filter(({ rel }) => !rel.split('/').some((p) => p.startsWith('.')));
    if (!list.length) return void (this.error = 'No files to upload.');
    // The picked folder's own name (every path starts with it) names the upload's folder.
    const tops = list.map(({ rel }) => (rel.includes('/') ? rel.split('/')[0]! : ''));
    const top = tops.every((t) => t === tops[0]) ? tops[0]! : '';
    const total = list.reduce((n, { f }) => n + f.size, 0);
    this.upload = { done: 0, total };
    try {
      const { uploadId } = await this.app.client.call('uploads.begin', {
        name: top || 'upload',
        bytes: total,
      });
      let done = 0;
      for (const { f, rel } of list) {
        const path = top ? rel.slice(top.length + 1) : rel;
        let offset = 0;
        do {
          const part = f.slice(offset, offset + UPLOAD_CHUNK);
          await this.app.client.call('uploads.chunk', {
            uploadId,
            path,
            offset,
            base64: await fileToBase64(part),
          });
          offset += part.size;
          done += part.size;
          this.upload = { done, total, file: path };
        } while (offset < f.size);
      }
      const { folder } = await this.app.client.call('uploads.finish', { uploadId });
      this.upload = null;
      await this.doScan(folder);
      if (this.scan) await this.doImport();
    } catch (err) {
      this.upload = null;
      this.error = `Upload failed: ${errorText(err)}`;
    }
  }

  async cancelImport(): Promise<void> {
    this.importError = (await this.app.cancelJob(this.importJobId)) ?? this.importError;
  }

  async remove(id: string): Promise<void> {
    try {
      await this.app.client.call('datasets.remove', { id });
      if (this.selectedId === id) this.selectedId = null;
      await this.app.refreshDatasets();
    } catch (err) {
      this.error = errorText(err);
    }
  }
}
