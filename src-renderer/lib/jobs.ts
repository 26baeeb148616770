/**
 * Reduces the service's `job.*` events into one view per job: progress, rate, ETA, training
 * history. Pure (the clock is passed in) so it is tested without a DOM; `jobs.svelte.ts` holds it.
 */
import type { EpochMetrics, JobInfo, JobKind, ServiceEvent, TrainEvent } from '../../src-main/contract.js';

export interface JobView {
  jobId: string;
  kind: JobKind;
  title: string;
  state: JobInfo['state'];
  startedAt: number;
  done: number;
  total: number;
  /** Units per second (images, or steps for training), measured here unless the service says. */
  rate?: number;
  unit: string;
  etaSeconds?: number;
  phase?: string;
  epoch?: number;
  loss?: number;
  backend?: string;
  device?: string;
  history: EpochMetrics[];
  error?: string;
  result?: unknown;
  /** First progress sample seen here, for rate and ETA when the service gives none. */
  t0?: { at: number; done: number };
  updatedAt: number;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Pulls done/total/phase out of any progress payload (import, evaluate and predict differ). */
export function progressOf(p: unknown): { done?: number; total?: number; phase?: string; rate?: number; eta?: number } {
  if (!p || typeof p !== 'object') return {};
  const o = p as Record<string, unknown>;
  // An import counts decoded + cached + skipped files (src-main/data ImportProgress).
  const decoded = num(o.decoded);
  const imported = decoded === undefined ? undefined : decoded + (num(o.cached) ?? 0) + (num(o.skipped) ?? 0);
  const done = num(o.done) ?? num(o.processed) ?? num(o.current) ?? num(o.step) ?? num(o.completed) ?? imported;
  const total = num(o.total) ?? num(o.totalSteps) ?? num(o.count);
  const phase = typeof o.phase === 'string' ? o.phase : typeof o.stage === 'string' ? o.stage : undefined;
  return { done, total, phase, rate: num(o.imagesPerSecond) ?? num(o.rate), eta: num(o.etaSeconds) ?? num(o.eta) };
}

export function newJob(jobId: string, kind: JobKind, now: number, info?: Partial<JobInfo>): JobView {
  const started = info?.startedAt ? Date.parse(info.startedAt) : NaN;
  return {
    jobId,
    kind,
    title: info?.title ?? kind,
    state: info?.state ?? 'running',
    startedAt: Number.isFinite(started) ? started : now,
    done: 0,
    total: 0,
    unit: kind === 'train' ? 'images' : 'images',
    history: info?.history ? [...info.history] : [],
    updatedAt: now,
  };
}

/** A job as `jobs.list` / `train.status` report it (a reopened window), folded into a view. */
export function fromInfo(info: JobInfo, now: number): JobView {
  let view = newJob(info.jobId, info.kind, now, info);
  if (info.last !== undefined) view = applyProgress(view, info.last, now);
  return view;
}

function applyProgress(job: JobView, p: unknown, now: number): JobView {
  const next: JobView = { ...job, updatedAt: now };
  if (job.kind === 'train' && p && typeof p === 'object' && 'type' in p) {
    const e = p as TrainEvent;
    switch (e.type) {
      case 'start':
        return { ...next, total: e.totalSteps, backend: e.backend, device: e.device, phase: 'training' };
      case 'step':
        return {
          ...next,
          done: e.step,
          total: e.totalSteps,
          epoch: e.epoch,
          loss: e.loss,
          rate: e.imagesPerSecond,
          etaSeconds: e.etaSeconds,
          phase: 'training',
        };
      case 'epoch':
        return {
          ...next,
          epoch: e.metrics.epoch,
          history: job.history.some((h) => h.epoch === e.metrics.epoch)
            ? job.history.map((h) => (h.epoch === e.metrics.epoch ? e.metrics : h))
            : [...job.history, e.metrics],
        };
      case 'checkpoint':
        return { ...next, phase: `checkpoint after epoch ${e.epoch}` };
      case 'done':
        return { ...next, done: next.total || next.done, etaSeconds: 0, phase: 'saving' };
      case 'cancelled':
        return { ...next, phase: 'cancelling' };
    }
  }
  const q = progressOf(p);
  if (q.done !== undefined) next.done = q.done;
  if (q.total !== undefined) next.total = q.total;
  if (q.phase !== undefined) next.phase = q.phase;
  if (next.t0 === undefined || next.done < next.t0.done) next.t0 = { at: now, done: next.done };
  const elapsed = (now - next.t0.at) / 1000;
  const measured = elapsed > 0.2 && next.done > next.t0.done ? (next.done - next.t0.done) / elapsed : undefined;
  next.rate = q.rate ?? measured ?? job.rate;
  next.etaSeconds = q.eta ?? (next.rate && next.total ? Math.max(0, (next.total - next.done) / next.rate) : undefined);
  return next;
}

/** One event applied to one job (undefined = the event is not about a job). */
export function reduceJob(job: JobView | undefined, e: ServiceEvent, now: number): JobView | undefined {
  switch (e.type) {
    case 'job.started':
      return job ? { ...job, title: e.job.title, kind: e.job.kind } : newJob(e.job.jobId, e.job.kind, now, e.job);
    case 'job.progress':
      return applyProgress(job ?? newJob(e.jobId, e.kind, now), e.progress, now);
    case 'job.item': {
      const j = job ?? newJob(e.jobId, e.kind, now);
      return { ...j, updatedAt: now };
    }
    case 'job.done':
      // The last phase ("saving", "done") would only repeat the state next to it.
      return { ...(job ?? newJob(e.jobId, e.kind, now)), state: 'done', phase: undefined, result: e.result, etaSeconds: 0, updatedAt: now };
    case 'job.failed':
      return { ...(job ?? newJob(e.jobId, e.kind, now)), state: 'failed', error: e.error.message, updatedAt: now };
    case 'job.cancelled':
      return { ...(job ?? newJob(e.jobId, e.kind, now)), state: 'cancelled', updatedAt: now };
    default:
      return job;
  }
}

export function isFinished(job: JobView | undefined): boolean {
  return !!job && job.state !== 'running';
}
