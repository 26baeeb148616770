/** Predict: the streamed result list, its sort/filter, export and copy. */
import type { JobResults, PredictionRow, SkippedFile } from '../../src-main/contract.js';
import type { AppState } from './app.svelte.js';
import { errorText } from './client.js';
import { batches, browserShows, download, fileToBase64, isImageName } from './files.js';
import { forExport, summarise, view, type FlagFilter, type SortKey } from './predictions.js';

export class PredictState {
  /** Long and append-only: raw, replaced in batches. */
  rows = $state.raw<PredictionRow[]>([]);
  sort = $state<SortKey>('arrival');
  flag = $state<FlagFilter>('all');
  minEntropy = $state(0);
  text = $state('');
  error = $state<string | null>(null);
  notice = $state<string | null>(null);
  serverPath = $state('');
  copyDest = $state('');
  /** Jobs this view started; cancel stops them all. */
  jobIds = $state.raw<string[]>([]);
  sending = $state(0);
  /** Files of the folders given that were not read (not images), from each job's result. */
  skipped = $state.raw<SkippedFile[]>([]);

  visible = $derived(
    view(this.rows, this.sort, { flag: this.flag, minEntropy: this.minEntropy, text: this.text.trim() }),
  );
  summary = $derived(summarise(this.rows));
  running = $derived(this.jobIds.filter((id) => this.app.jobs.get(id)?.state === 'running'));
  busy = $derived(this.sending > 0 || this.running.length > 0);
  progress = $derived.by(() => {
    let done = 0,
      total = 0;
    for (const id of this.jobIds) {
      const j = this.app.jobs.get(id);
      if (!j) continue;
      total += j.total;
      done += j.state === 'done' ? j.total : j.done;
    }
    return { done, total };
  });

  private pending: PredictionRow[] = [];
  /**
   * Thumbnails of dropped files, made here from the File itself (an object URL): the bytes are
   * already in the browser, so nothing is round-tripped through the service. Name → URLs in drop order.
   */
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- bookkeeping, never rendered
  private localThumbs = new Map<string, string[]>();
  private objectUrls: string[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private app: AppState,
    /** Items arrive one per message; the list is rebuilt at most this often. */
    private flushMs = 60,
  ) {}

  accept(item: PredictionRow): void {
    if (item.dropped) {
      // Taken in drop order even when the service sent a thumbnail, so same-named files stay paired.
      const url = this.localThumbs.get(item.name)?.shift();
      if (url && !item.thumbnail) item = { ...item, thumbnail: url };
    }
    this.pending.push(item);
    if (this.timer === undefined) this.timer = setTimeout(() => this.flush(), this.flushMs);
  }

  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.pending.length) return;
    this.rows = this.rows.concat(this.pending);
    this.pending = [];
  }

  /** Test/bench hook: show hand-made rows without a service. */
  load(rows: PredictionRow[]): void {
    this.rows = rows;
  }

  clear(): void {
    for (const url of this.objectUrls) URL.revokeObjectURL(url);
    this.objectUrls = [];
    this.localThumbs.clear();
    this.pending = [];
    this.rows = [];
    this.skipped = [];
    this.notice = null;
    this.error = null;
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    for (const url of this.objectUrls) URL.revokeObjectURL(url);
  }

  private async model(): Promise<string | null> {
    // Images dropped the moment the window opens: the model list may still be on its way.
    if (!this.app.activeModel) await this.app.modelsLoaded;
    const m = this.app.activeModel;
    if (!m) {
      this.error = 'No model yet. Train one under Train, or import one under Models.';
      return null;
    }
    return m.id;
  }

  /** Files from a drop or the file input: paths in Electron, bytes in a browser. */
  async addFiles(files: File[]): Promise<void> {
    this.error = null;
    const images = files.filter((f) => isImageName(f.name) || f.type.startsWith('image/'));
    const skipped = files.length - images.length;
    this.notice = skipped ? `${skipped} file(s) skipped: not images.` : null;
    if (!images.length) {
      if (files.length)
        this.error =
          'None of those are images. Drop PNG, JPEG, WebP, GIF, BMP or TIFF files, or a folder of them.';
      return;
    }
    const toPath = this.app.platform.pathForFile;
    if (toPath) {
      const paths = images.map((f) => toPath(f)).filter((p) => !!p);
      if (paths.length) return this.addPaths(paths);
    }
    await this.send(async (model) => {
      const local = typeof URL.createObjectURL === 'function';
      for (const group of batches(images)) {
        const payload = await Promise.all(
          group.map(async (f) => ({ name: f.name, base64: await fileToBase64(f) })),
        );
        // A TIFF's object URL is a broken image: such files get their thumbnail from the service.
        const fromService = !local || !group.every((f) => browserShows(f.name));
        if (local) for (const f of group) if (browserShows(f.name)) this.rememberThumb(f);
        const jobId = await this.app.jobs.start(this.app.client, 'predict', {
          model,
          files: payload,
          thumbnails: fromService,
        });
        this.jobIds = [...this.jobIds, jobId];
      }
    });
  }

  /** Runs one submission with the model to predict with (none: its message), counted in `sending`. */
  private async send(submit: (model: string) => Promise<void>): Promise<void> {
    this.sending++;
    try {
      const model = await this.model();
      if (model) await submit(model);
    } catch (err) {
      this.error = errorText(err);
    } finally {
      this.sending--;
    }
  }

  private rememberThumb(f: File): void {
    const url = URL.createObjectURL(f);
    this.objectUrls.push(url);
    this.localThumbs.set(f.name, [...(this.localThumbs.get(f.name) ?? []), url]);
  }

  /** Paths (files or folders) the service can read itself: Electron drops, picks, or a typed server path. */
  async addPaths(paths: string[]): Promise<void> {
    this.error = null;
    if (!paths.length) return;
    await this.send(async (model) => {
      const jobId = await this.app.jobs.start(this.app.client, 'predict', { model, paths, thumbnails: true });
      this.jobIds = [...this.jobIds, jobId];
      // A failed or cancelled job says so through the jobs list; only its skipped files are wanted here.
      this.app.jobs.waitFor<JobResults['predict']>(jobId).then(
        (r) => {
          if (r.skipped?.length) this.skipped = [...this.skipped, ...r.skipped];
        },
        () => {},
      );
    });
  }

  async pickFiles(): Promise<void> {
    const pick = this.app.platform.pickFiles;
    if (!pick) return;
    const paths = await pick();
    if (paths.length) await this.addPaths(paths);
  }

  async cancel(): Promise<void> {
    for (const jobId of this.running) this.error = (await this.app.cancelJob(jobId)) ?? this.error;
  }

  async exportCsv(): Promise<void> {
    this.flush();
    this.error = null;
    try {
      const { csv } = await this.app.client.call('predictions.csv', {
        rows: forExport(this.visible) as never,
      });
      download('predictions.csv', csv);
      this.notice = `Exported ${this.visible.length} row(s) to predictions.csv.`;
    } catch (err) {
      this.error = `Export failed: ${errorText(err)}`;
    }
  }

  async copyToFolders(dest?: string): Promise<void> {
    this.flush();
    this.error = null;
    // Picked or dropped files reached the service as bytes: there is no file on the server to copy.
    if (this.visible.length && this.visible.every((r) => r.dropped)) {
      this.error =
        'These images were picked or dropped in the browser, so the server has no file to copy. ' +
        'Predict a folder by its path on the server (or use the desktop app), then copy.';
      return;
    }
    let target = dest ?? this.copyDest.trim();
    if (!target && this.app.platform.pickFolder) target = (await this.app.platform.pickFolder()) ?? '';
    if (!target) {
      this.error = 'Choose a destination folder first (type a folder path on the server).';
      return;
    }
    try {
      const r = await this.app.client.call('predictions.copy', {
        rows: forExport(this.visible) as never,
        dest: target,
      });
      this.notice = copyNotice(r);
    } catch (err) {
      this.error = `Copy failed: ${errorText(err)}`;
    }
  }
}

/** "Copied 12 image(s) into /out (3: 4, 7: 8); 2 not copied: dropped image (no file on disk) ×2." */
export function copyNotice(r: {
  dest: string;
  copied: number;
  folders: Record<string, number>;
  skipped?: { file: string; reason: string }[];
}): string {
  const parts = Object.entries(r.folders).map(([k, n]) => `${k}: ${n}`);
  let text = `Copied ${r.copied} image(s) into ${r.dest}${parts.length ? ` (${parts.join(', ')})` : ''}.`;
  if (r.skipped?.length) {
    const reasons: Record<string, number> = {};
    for (const s of r.skipped) reasons[s.reason] = (reasons[s.reason] ?? 0) + 1;
    const why = Object.entries(reasons)
      .map(([reason, n]) => (n > 1 ? `${reason} ×${n}` : reason))
      .join('; ');
    text += ` ${r.skipped.length} not copied: ${why}.`;
  }
  return text;
}
