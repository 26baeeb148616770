/**
 * Cancel ends every job promptly (issue 13 item 3), even when the work never looks at the signal
 * (a long batch): `job.cancelled` arrives, and the work's late result is ignored.
 */
import { describe, expect, it } from 'vitest';
import type { ServiceEvent } from '../../src-main/contract.js';
import { JobRunner } from '../../src-main/service/jobs.js';

function runner() {
  const events: ServiceEvent[] = [];
  const jobs = new JobRunner((e) => events.push(e), Date.now, 0);
  const next = (type: ServiceEvent['type'], jobId: string) =>
    new Promise<ServiceEvent>((resolve, reject) => {
      const t0 = Date.now();
      const poll = setInterval(() => {
        const e = events.find((x) => x.type === type && 'jobId' in x && x.jobId === jobId);
        if (e) {
          clearInterval(poll);
          resolve(e);
        } else if (Date.now() - t0 > 5_000) {
          clearInterval(poll);
          reject(new Error(`no ${type} within 5 s; got ${events.map((x) => x.type).join(', ')}`));
        }
      }, 10);
    });
  return { jobs, events, next };
}

describe('jobs.cancel', () => {
  it('ends a job whose work ignores the signal (a runaway batch), and ignores its late result', async () => {
    const { jobs, events, next } = runner();
    let finish!: () => void;
    const { jobId } = jobs.start(
      'predict',
      'runaway',
      () => new Promise((r) => (finish = () => r({ count: 1, errors: 0, flagged: 0 }))),
    );
    await new Promise((r) => setTimeout(r, 20));
    expect(jobs.cancel(jobId)).toEqual({ cancelled: true });
    await next('job.cancelled', jobId);
    expect(jobs.list().find((j) => j.jobId === jobId)!.state).toBe('cancelled');
    finish();
    await new Promise((r) => setTimeout(r, 20));
    expect(events.some((e) => e.type === 'job.done')).toBe(false);
  });

  it('ends every job kind (import, train, evaluate, predict, compare) stuck in its work', async () => {
    const { jobs, next } = runner();
    const kinds = ['import', 'train', 'evaluate', 'predict', 'compare'] as const;
    const ids = kinds.map((k) => jobs.start(k, `stuck ${k}`, () => new Promise<never>(() => {})).jobId);
    await new Promise((r) => setTimeout(r, 20));
    for (const id of ids) jobs.cancel(id);
    await Promise.all(ids.map((id) => next('job.cancelled', id)));
    expect(jobs.list().map((j) => j.state)).toEqual(kinds.map(() => 'cancelled'));
  });

  it('a job that stops at the signal ends as cancelled, not failed', async () => {
    const { jobs, events, next } = runner();
    const { jobId } = jobs.start(
      'evaluate',
      'cooperative',
      (ctx) =>
        new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('stopped')))),
    );
    await new Promise((r) => setTimeout(r, 20));
    jobs.cancel(jobId);
    await next('job.cancelled', jobId);
    expect(events.some((e) => e.type === 'job.failed')).toBe(false);
  });
});
