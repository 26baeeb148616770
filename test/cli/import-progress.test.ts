/**
 * What `rank1 train` shows while its folder is imported (the first import of a large folder reads
 * every file: minutes for 100,000 photos): a bar over the files read, and the lock's "waiting for
 * another import" line once, instead of nothing until the import is done.
 */
import { describe, expect, it } from 'vitest';
import { importReporter } from '../../src-main/cli/common.js';
import type { ImportProgress } from '../../src-main/contract.js';

const event = (phase: ImportProgress['phase'], over: Partial<ImportProgress> = {}): ImportProgress => ({
  phase,
  scanned: 100,
  decoded: 0,
  cached: 0,
  skipped: 0,
  total: 100,
  imagesPerSecond: 0,
  etaSeconds: 0,
  ...over,
});

describe('importReporter', () => {
  it('drives a bar over the files read and stops it when the import is done', () => {
    const calls: string[] = [];
    const bar = {
      start: (total: number, value: number) => calls.push(`start ${total} ${value}`),
      update: (value: number) => calls.push(`update ${value}`),
      stop: () => calls.push('stop'),
    };
    const report = importReporter(bar, () => calls.push('line'));
    report(event('scan'));
    report(event('decode', { decoded: 10, imagesPerSecond: 500 }));
    report(event('decode', { decoded: 60, cached: 20, skipped: 2 }));
    report(event('done', { decoded: 78, cached: 20, skipped: 2, images: 98 }));
    expect(calls).toEqual(['start 100 10', 'update 82', 'stop']);
  });

  it('says once that it waits for another import of the folder', () => {
    const lines: string[] = [];
    const report = importReporter(null, (l) => lines.push(l));
    const message = 'waiting for another import of this folder (process 123)';
    report(event('wait', { message }));
    report(event('wait', { message }));
    report(event('decode', { decoded: 1 }));
    expect(lines).toEqual([message]);
  });
});
