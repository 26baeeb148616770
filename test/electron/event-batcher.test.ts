import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ServiceEvent } from '../../src-main/contract.js';
import { EventBatcher } from '../../src-main/electron/event-batcher.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

const progress = (jobId: string, done: number): ServiceEvent => ({
  type: 'job.progress',
  jobId,
  kind: 'predict',
  progress: { done, total: 100 },
});

describe('EventBatcher', () => {
  it('sends at most one batch per interval, coalescing progress per job', () => {
    const sent: ServiceEvent[][] = [];
    const b = new EventBatcher((batch) => sent.push(batch), 50);
    for (let i = 0; i < 100; i++) b.push(progress('a', i));
    b.push(progress('b', 1));
    expect(sent).toHaveLength(0);
    vi.advanceTimersByTime(50);
    expect(sent).toEqual([[progress('a', 99), progress('b', 1)]]);
  });

  it('keeps training epochs and items, and flushes failures at once', () => {
    const sent: ServiceEvent[][] = [];
    const b = new EventBatcher((batch) => sent.push(batch), 50);
    const epoch1: ServiceEvent = {
      type: 'job.progress',
      jobId: 't',
      kind: 'train',
      progress: { type: 'epoch', epoch: 1 } as any,
    };
    const epoch2: ServiceEvent = {
      type: 'job.progress',
      jobId: 't',
      kind: 'train',
      progress: { type: 'epoch', epoch: 2 } as any,
    };
    b.push(epoch1);
    b.push(epoch2);
    b.push({ type: 'job.item', jobId: 'p', kind: 'predict', item: { file: '/a', name: 'a' } });
    b.push({
      type: 'job.failed',
      jobId: 't',
      kind: 'train',
      error: { code: 'engine-crashed', message: 'crashed' },
    });
    expect(sent).toHaveLength(1);
    expect(sent[0]!.map((e) => e.type)).toEqual(['job.progress', 'job.progress', 'job.item', 'job.failed']);
    b.push({ type: 'engine.restarted', reason: 'crashed (exit code 1)' });
    expect(sent).toHaveLength(2);
    b.dispose();
  });
});
