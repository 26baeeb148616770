/**
 * Reduces the service's `job.*` events into one view per job: progress, rate, ETA, training
 * history. Pure (the clock is passed in) so it is tested without a DOM; `jobs.svelte.ts` holds it.
 */
import type { EpochMetrics, JobInfo, JobKind, JobProgress, ServiceEvent } from '../../src-main/contract.js';

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

type Progress = { done?: number; total?: number; phase?: string; rate?: number; eta?: number };

/** done/total/phase of an import, a backbone's transfer step, or evaluate/predict (training is read in `applyProgress`). */
export function progressOf(p: JobProgress): Progress {
  if ('type' in p) return {};
  // A comparison: training steps over every method, the method at work as the phase.
  if ('method' in p)
    return {
      done: p.done,
      total: p.total,
      phase: `${p.method} (${p.index + 1} of ${p.methods}): ${p.stage}`,
    };
  if ('decoded' in p)
    // An import counts decoded + cached + skipped files.
    return {
      done: p.decoded + p.cached + p.skipped,
      total: p.total,
      phase: p.phase,
      rate: p.imagesPerSecond,
      eta: p.etaSeconds,
    };
  if ('phase' in p)
    return p.phase === 'embed' ? { done: p.done, total: p.total, phase: p.phase } : { phase: p.phase };
  return { done: p.done, total: p.total };
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
    unit: kind === 'compare' ? 'steps' : 'images',
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

function applyProgress(job: JobView, p: NonNullable<JobInfo['last']>, now: number): JobView {
  const next: JobView = { ...job, updatedAt: now };
  // A failed job's last word is its error (the job.failed event carries it too).
  if ('error' in p) return next;
  if ('type' in p) {
    const e = p;
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
  const measured =
    elapsed > 0.2 && next.done > next.t0.done ? (next.done - next.t0.done) / elapsed : undefined;
  next.rate = q.rate ?? measured ?? job.rate;
  next.etaSeconds =
    q.eta ?? (next.rate && next.total ? Math.max(0, (next.total - next.done) / next.rate) : undefined);
  return next;
}

/** One event applied to one job (undefined = the event is not about a job). */
export function reduceJob(job: JobView | undefined, e: ServiceEvent, now: number): JobView | undefined {
  switch (e.type) {
    case 'job.started':
      return job
        ? { ...job, title: e.job.title, kind: e.job.kind }
        : newJob(e.job.jobId, e.job.kind, now, e.job);
    case 'job.progress':
      return applyProgress(job ?? newJob(e.jobId, e.kind, now), e.progress, now);
    case 'job.item': {
      const j = job ?? newJob(e.jobId, e.kind, now);
      return { ...j, updatedAt: now };
    }
    case 'job.done':
      // The last phase ("saving", "done") would only repeat the state next to it.
      return {
        ...(job ?? newJob(e.jobId, e.kind, now)),
        state: 'done',
        phase: undefined,
        result: e.result,
        etaSeconds: 0,
        updatedAt: now,
      };
    case 'job.failed':
      return {
        ...(job ?? newJob(e.jobId, e.kind, now)),
        state: 'failed',
        error: e.error.message,
        updatedAt: now,
      };
    case 'job.cancelled':
      return { ...(job ?? newJob(e.jobId, e.kind, now)), state: 'cancelled', updatedAt: now };
    default:
      return job;
  }
}

export function isFinished(job: JobView | undefined): boolean {
  return !!job && job.state !== 'running';
}
