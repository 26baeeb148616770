/**
 * Pieces every transport shares: turning any thrown value into a typed error shape, the job kind
 * an operation starts, and the progress throttle used where events cross a process boundary.
 * Browser-safe: imports only the contract.
 */
import {
  errorCodes,
  ServiceError,
  type ErrorCode,
  type JobKind,
  type ServiceErrorShape,
  type ServiceEvent,
} from '../contract.js';

const codes = new Set<string>(errorCodes);

/** A typed error shape for anything thrown; unknown errors become 'failed' with their message. */
export function toErrorShape(err: unknown): ServiceErrorShape {
  if (isErrorShape(err)) {
    return {
      code: err.code,
      message: String(err.message),
      ...(typeof err.field === 'string' ? { field: err.field } : {}),
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'failed', message: message || 'The operation failed.' };
}

export function isErrorShape(v: unknown): v is ServiceErrorShape {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o.code === 'string' && codes.has(o.code) && typeof o.message === 'string';
}

/** Rebuild a ServiceError from whatever came over a wire (never trusts the shape blindly). */
export function toServiceError(v: unknown): ServiceError {
  if (v instanceof ServiceError) return v;
  const s = toErrorShape(v);
  return new ServiceError(s.code as ErrorCode, s.message, s.field);
}

/** Operations that start a job, and the kind of job each starts. */
export const jobOperations: Readonly<Record<string, JobKind>> = {
  'datasets.import': 'import',
  'train.start': 'train',
  evaluate: 'evaluate',
  predict: 'predict',
  'compare.start': 'compare',
};

/**
 * The jobs a client half (engine host, WebSocket client) has seen start and not finish, so that
 * losing the engine or the connection can fail them with `job.failed` instead of leaving them hanging.
 */
export class RunningJobs {
  private readonly jobs = new Map<string, JobKind>();

  /** Started or first heard of: running; done, failed or cancelled: gone. */
  track(e: ServiceEvent): void {
    if (e.type === 'job.started') this.jobs.set(e.job.jobId, e.job.kind);
    else if (e.type === 'job.progress' || e.type === 'job.item') {
      if (!this.jobs.has(e.jobId)) this.jobs.set(e.jobId, e.kind);
    } else if (e.type === 'job.done' || e.type === 'job.failed' || e.type === 'job.cancelled')
      this.jobs.delete(e.jobId);
  }

  /** A call's result: the job an operation starts is running from the moment its id comes back. */
  started(op: string, result: unknown): void {
    const kind = jobOperations[op];
    const jobId = (result as { jobId?: unknown } | null)?.jobId;
    if (kind && typeof jobId === 'string' && !this.jobs.has(jobId)) this.jobs.set(jobId, kind);
  }

  /** The jobs running now, [jobId, kind] each; the set is left empty. */
  drain(): Array<[jobId: string, kind: JobKind]> {
    const all = [...this.jobs];
    this.jobs.clear();
    return all;
  }
}

/** Training events that carry state the UI keeps (curves, checkpoints): never coalesced. */
const keptProgress = new Set(['start', 'epoch', 'checkpoint', 'done', 'cancelled']);

/** A `job.progress` that only the latest of may be kept (the batcher in electron/ uses it too). */
export function coalescable(e: ServiceEvent): e is Extract<ServiceEvent, { type: 'job.progress' }> {
  if (e.type !== 'job.progress') return false;
  const t = (e.progress as { type?: unknown } | null)?.type;
  return !(typeof t === 'string' && keptProgress.has(t));
}

export interface EventThrottle {
  push(e: ServiceEvent): void;
  /** Send every held progress event now (e.g. before shutting down). */
  flush(): void;
  dispose(): void;
}

/**
 * Coalesce `job.progress` per job to at most one per `intervalMs` (latest wins); every other event
 * passes at once, after any progress held for its job so the order per job is kept.
 */
export function throttleEvents(send: (e: ServiceEvent) => void, intervalMs = 100): EventThrottle {
  const jobs = new Map<
    string,
    { lastSent: number; held?: ServiceEvent; timer?: ReturnType<typeof setTimeout> }
  >();
  const release = (jobId: string) => {
    const j = jobs.get(jobId);
    if (!j) return;
    if (j.timer) clearTimeout(j.timer);
    j.timer = undefined;
    if (j.held) {
      const held = j.held;
      j.held = undefined;
      j.lastSent = Date.now();
      send(held);
    }
  };
  return {
    push(e) {
      if (coalescable(e)) {
        const now = Date.now();
        let j = jobs.get(e.jobId);
        if (!j) jobs.set(e.jobId, (j = { lastSent: 0 }));
        if (!j.held && now - j.lastSent >= intervalMs) {
          j.lastSent = now;
          send(e);
          return;
        }
        j.held = e;
        j.timer ??= setTimeout(() => release(e.jobId), Math.max(0, j.lastSent + intervalMs - now));
        return;
      }
      const jobId = 'jobId' in e ? e.jobId : undefined;
      if (jobId !== undefined) {
        release(jobId);
        if (e.type === 'job.done' || e.type === 'job.failed' || e.type === 'job.cancelled')
          jobs.delete(jobId);
      }
      send(e);
    },
    flush() {
      for (const id of [...jobs.keys()]) release(id);
    },
    dispose() {
      for (const j of jobs.values()) if (j.timer) clearTimeout(j.timer);
      jobs.clear();
    },
  };
}
