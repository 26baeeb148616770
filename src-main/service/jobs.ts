/**
 * Jobs: long operations answer `{ jobId }` at once and report through `job.*` events; progress is
 * throttled, the last few finished jobs are kept for `jobs.list`.
 */
import { randomBytes } from 'node:crypto';
import {
  ServiceError,
  type JobInfo,
  type JobKind,
  type JobProgress,
  type JobResults,
  type JobStarted,
  type PredictionRow,
  type ServiceErrorShape,
  type ServiceEvent,
} from '../contract.js';
import type { EpochMetrics } from '../engine/types.js';
import { abortError, toServiceError } from './errors.js';

const MAX_RECENT_JOBS = 50;
/**
 * How long a cancelled job's work may take to notice the signal before the job is declared
 * cancelled anyway (issue 13 item 3: cancel ends every job within a second, even when the work
 * is inside a long batch that checks the signal only between batches).
 */
export const CANCEL_GRACE_MS = 750;

/** The work's result, or an abort error at most CANCEL_GRACE_MS after `signal` aborts. */
function untilCancelled<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const cancelled = new Promise<never>((_, reject) => {
    onAbort = () => {
      timer = setTimeout(() => reject(abortError()), CANCEL_GRACE_MS);
      timer.unref?.();
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  // The work may still settle after the job is declared cancelled: its outcome is then ignored.
  work.catch(() => undefined);
  return Promise.race([work, cancelled]).finally(() => {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  });
}

interface Job {
  info: JobInfo;
  controller: AbortController;
  lastEmit: number;
}

export interface JobContext {
  jobId: string;
  signal: AbortSignal;
  /** Record progress; emitted at most every `progressIntervalMs` unless `important`. */
  progress(p: JobProgress, important?: boolean): void;
  item(row: PredictionRow): void;
  history(m: EpochMetrics): void;
}

export class JobRunner {
  private readonly jobs = new Map<string, Job>();
  private jobCounter = 0;

  constructor(
    private readonly emit: (e: ServiceEvent) => void,
    private readonly clock: () => number,
    private readonly progressIntervalMs: number,
  ) {}

  start<K extends JobKind>(
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
          const result = await untilCancelled(work(ctx), job.controller.signal);
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

  list(kind?: JobKind): JobInfo[] {
    return [...this.jobs.values()]
      .filter((j) => !kind || j.info.kind === kind)
      .map((j) => ({ ...j.info, history: j.info.history ? [...j.info.history] : undefined }));
  }

  cancel(jobId: string): { cancelled: boolean } {
    const job = this.jobs.get(jobId);
    if (!job)
      throw new ServiceError('not-found', `No job "${jobId}"; jobs.list shows the current ones.`, 'jobId');
    if (job.info.state !== 'running') return { cancelled: false };
    job.controller.abort();
    return { cancelled: true };
  }

  /** Abort every running job (the service is shutting down). */
  abortAll(): void {
    for (const job of this.jobs.values()) if (job.info.state === 'running') job.controller.abort();
  }
}
