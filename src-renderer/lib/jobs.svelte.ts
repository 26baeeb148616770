/** All jobs this window knows about, kept current from `job.*` events. */
import {
  ServiceError,
  type JobInfo,
  type JobKind,
  type ServiceClient,
  type ServiceEvent,
} from '../../src-main/contract.js';
import { fromInfo, isFinished, reduceJob, type JobView } from './jobs.js';

type Waiter = { resolve: (v: unknown) => void; reject: (e: Error) => void };

export class JobsState {
  /** Replaced (not mutated) per event: a few objects, updated often. */
  jobs = $state.raw<Record<string, JobView>>({});
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- bookkeeping, never rendered
  private waiters = new Map<string, Waiter[]>();

  constructor(private now: () => number = () => Date.now()) {}

  apply(e: ServiceEvent): void {
    if (!('jobId' in e) && e.type !== 'job.started') return;
    const jobId = e.type === 'job.started' ? e.job.jobId : (e as { jobId: string }).jobId;
    const next = reduceJob(this.jobs[jobId], e, this.now());
    if (!next) return;
    this.jobs = { ...this.jobs, [jobId]: next };
    if (isFinished(next)) this.settle(next);
  }

  /** Seed from `jobs.list` / `train.status` (window reopened while something runs). */
  restore(infos: JobInfo[]): void {
    const next = { ...this.jobs };
    for (const info of infos) if (!next[info.jobId]) next[info.jobId] = fromInfo(info, this.now());
    this.jobs = next;
  }

  get(jobId: string | undefined): JobView | undefined {
    return jobId ? this.jobs[jobId] : undefined;
  }

  running(kind: JobKind): JobView[] {
    return Object.values(this.jobs)
      .filter((j) => j.kind === kind && j.state === 'running')
      .sort((a, b) => b.startedAt - a.startedAt);
  }

  /** Resolves with the job's result, rejects with its error (or 'cancelled'). */
  waitFor<T = unknown>(jobId: string): Promise<T> {
    const job = this.jobs[jobId];
    return new Promise<T>((resolve, reject) => {
      const w = { resolve: resolve as (v: unknown) => void, reject };
      if (job && isFinished(job)) return this.settleOne(job, w);
      this.waiters.set(jobId, [...(this.waiters.get(jobId) ?? []), w]);
    });
  }

  /** Start a job: the call returns `{ jobId }`; events already arrive through `apply`. */
  async start(
    client: ServiceClient,
    op: 'datasets.import' | 'train.start' | 'evaluate' | 'predict' | 'compare.start',
    args: unknown,
  ): Promise<string> {
    const { jobId } = await client.call(op as 'evaluate', args as never);
    if (!this.jobs[jobId]) {
      const kind: JobKind =
        op === 'datasets.import'
          ? 'import'
          : op === 'train.start'
            ? 'train'
            : op === 'compare.start'
              ? 'compare'
              : (op as JobKind);
      this.apply({ type: 'job.progress', jobId, kind, progress: { done: 0, total: 0 } });
    }
    return jobId;
  }

  private settle(job: JobView): void {
    const ws = this.waiters.get(job.jobId);
    if (!ws) return;
    this.waiters.delete(job.jobId);
    for (const w of ws) this.settleOne(job, w);
  }

  private settleOne(job: JobView, w: Waiter): void {
    if (job.state === 'done') w.resolve(job.result);
    else if (job.state === 'cancelled') w.reject(new ServiceError('cancelled', 'Cancelled.'));
    else w.reject(new ServiceError('failed', job.error ?? 'The job failed.'));
  }
}
