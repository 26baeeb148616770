import { describe, expect, it } from 'vitest';
import { ServiceError, type ServiceEvent } from '../../src-main/contract.js';
import {
  RunningJobs,
  throttleEvents,
  toErrorShape,
  toServiceError,
} from '../../src-main/transports/shared.js';

const step = (jobId: string, n: number): ServiceEvent => ({
  type: 'job.progress',
  jobId,
  kind: 'train',
  progress: {
    type: 'step',
    epoch: 0,
    step: n,
    totalSteps: 100,
    loss: 1,
    kl: 0,
    lr: 0.1,
    imagesPerSecond: 1,
    etaSeconds: 1,
  },
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('throttleEvents', () => {
  it('coalesces progress per job, keeps the latest, never drops epochs or terminal events, keeps order', async () => {
    const out: ServiceEvent[] = [];
    const t = throttleEvents((e) => out.push(e), 50);
    for (let i = 1; i <= 100; i++) {
      t.push(step('a', i));
      t.push(step('b', i));
      if (i % 25 === 0)
        t.push({
          type: 'job.progress',
          jobId: 'a',
          kind: 'train',
          progress: { type: 'epoch', metrics: { epoch: i / 25 } as never },
        });
    }
    t.push({ type: 'job.done', jobId: 'a', kind: 'train', result: {} as never });
    const beforeTimer = out.length;
    await sleep(80);
    t.dispose();
    const a = out.filter((e) => 'jobId' in e && e.jobId === 'a');
    // First step immediately, then each epoch flushes the held step before it, then done.
    expect(
      a.filter((e) => e.type === 'job.progress' && (e.progress as { type: string }).type === 'epoch'),
    ).toHaveLength(4);
    expect(a.at(-1)!.type).toBe('job.done');
    expect(a.at(-3)).toEqual(step('a', 100)); // then epoch 4, then done
    expect(a.length).toBeLessThanOrEqual(1 + 4 * 2 + 2);
    // Job b: the first immediately, the latest once the interval passes.
    const b = out.filter((e) => 'jobId' in e && e.jobId === 'b');
    expect(b).toEqual([step('b', 1), step('b', 100)]);
    expect(beforeTimer).toBeLessThan(out.length);
  });

  it('passes events without a job at once', () => {
    const out: ServiceEvent[] = [];
    const t = throttleEvents((e) => out.push(e), 1000);
    t.push({ type: 'engine.restarted', reason: 'x' });
    t.push(step('a', 1));
    t.push(step('a', 2));
    t.flush();
    expect(out).toEqual([{ type: 'engine.restarted', reason: 'x' }, step('a', 1), step('a', 2)]);
    t.dispose();
  });
});

describe('error shapes', () => {
  it('keeps typed errors and wraps the rest as failed', () => {
    expect(toErrorShape(new ServiceError('forbidden', 'no', 'path'))).toEqual({
      code: 'forbidden',
      message: 'no',
      field: 'path',
    });
    expect(toErrorShape(new Error('boom'))).toEqual({ code: 'failed', message: 'boom' });
    expect(toErrorShape({ code: 'made-up', message: 'x' })).toEqual({
      code: 'failed',
      message: '[object Object]',
    });
    const e = toServiceError({ code: 'not-found', message: 'gone' });
    expect(e).toBeInstanceOf(ServiceError);
    expect(e.code).toBe('not-found');
  });
});

describe('RunningJobs', () => {
  it('holds a job from its start (event or call result) until it finishes, and drains what is left', () => {
    const jobs = new RunningJobs();
    jobs.track({
      type: 'job.started',
      job: { jobId: 'a', kind: 'import', state: 'running', startedAt: '', title: 'x' },
    });
    jobs.started('train.start', { jobId: 'b' });
    jobs.track(step('c', 1)); // first heard of through its progress
    jobs.started('models.list', { jobId: 'not-a-job' }); // no job operation
    jobs.started('evaluate', null);
    jobs.track({ type: 'job.done', jobId: 'a', kind: 'import', result: null as never });
    expect(jobs.drain()).toEqual([
      ['b', 'train'],
      ['c', 'train'],
    ]);
    expect(jobs.drain()).toEqual([]);
  });
});
