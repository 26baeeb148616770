/**
 * Cancel over the direct transport with the real engine (issue 13 item 3): a prediction of a
 * folder with the shipped demo model, cancelled after its first row, ends with `job.cancelled`
 * well within a generous bound, and no `job.done`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ServiceClient, type ServiceEvent } from '../../src-main/contract.js';
import { createService } from '../../src-main/service/index.js';
import { connectDirect } from '../../src-main/transports/direct.js';
import { SHARED } from '../shared-data.js';

const home = mkdtempSync(nodePath.join(tmpdir(), 'rank1-cancel-'));
const service = createService({ home });
afterAll(() => {
  service.dispose();
  rmSync(home, { recursive: true, force: true });
});

describe('jobs.cancel over the direct transport', () => {
  it('ends a running predict promptly (job.cancelled within 5 s of the cancel)', async () => {
    const model = nodePath.resolve(__dirname, '../../resources/demo/digits');
    const folder = nodePath.join(SHARED, 'data/mnist');
    service.grant(model);
    service.grant(folder);
    const transport = connectDirect(service);
    const client = new ServiceClient(transport);
    const events: ServiceEvent[] = [];
    transport.subscribe((e) => events.push(e));
    const { jobId } = await client.call('predict', { model, paths: [folder], thumbnails: false });
    const waitFor = async (pred: () => boolean, ms: number) => {
      for (const t0 = Date.now(); !pred(); await new Promise((r) => setTimeout(r, 10)))
        if (Date.now() - t0 > ms)
          throw new Error(`waited ${ms} ms; events: ${events.map((e) => e.type).join(', ')}`);
    };
    await waitFor(() => events.some((e) => e.type === 'job.item' && e.jobId === jobId), 120_000);
    await client.call('jobs.cancel', { jobId });
    await waitFor(() => events.some((e) => e.type === 'job.cancelled' && e.jobId === jobId), 5_000);
    expect(events.some((e) => e.type === 'job.done' && e.jobId === jobId)).toBe(false);
  }, 180_000);

  it('ends a running evaluate promptly, after its first progress', async () => {
    const model = nodePath.resolve(__dirname, '../../resources/demo/digits');
    const folder = nodePath.join(SHARED, 'data/mnist');
    const transport = connectDirect(service);
    const client = new ServiceClient(transport);
    const events: ServiceEvent[] = [];
    transport.subscribe((e) => events.push(e));
    const { jobId } = await client.call('evaluate', { model, dataset: folder, split: 'all' });
    const waitFor = async (pred: () => boolean, ms: number) => {
      for (const t0 = Date.now(); !pred(); await new Promise((r) => setTimeout(r, 10)))
        if (Date.now() - t0 > ms)
          throw new Error(`waited ${ms} ms; events: ${events.map((e) => e.type).join(', ')}`);
    };
    await waitFor(() => events.some((e) => e.type === 'job.progress' && e.jobId === jobId), 120_000);
    await client.call('jobs.cancel', { jobId });
    await waitFor(() => events.some((e) => e.type === 'job.cancelled' && e.jobId === jobId), 5_000);
    expect(events.some((e) => e.type === 'job.done' && e.jobId === jobId)).toBe(false);
  }, 180_000);
});
