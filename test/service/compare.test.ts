/**
 * `compare.start` through the service with the real data room and engine (issue 16 item 5): the
 * paths it may touch, its progress over every method, its result, and cancel. Tiny data (3 digits
 * × 20 MNIST images, MLP, one epoch) so it stays fast.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ServiceClient,
  type CompareProgress,
  type CompareResult,
  type ServiceEvent,
} from '../../src-main/contract.js';
import { createService, type Service } from '../../src-main/service/index.js';
import { connectDirect } from '../../src-main/transports/direct.js';
import { SHARED } from '../shared-data.js';

let tmp: string;
let ds: string;
let service: Service;
let client: ServiceClient;
const events: ServiceEvent[] = [];

beforeAll(async () => {
  tmp = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-compare-service-')));
  ds = path.join(tmp, 'digits');
  for (const c of ['0', '1', '2']) {
    await fs.mkdir(path.join(ds, c), { recursive: true });
    const files = (await fs.readdir(path.join(SHARED, 'data/mnist', c))).sort().slice(0, 20);
    for (const f of files) await fs.copyFile(path.join(SHARED, 'data/mnist', c, f), path.join(ds, c, f));
  }
  await fs.mkdir(path.join(tmp, 'outside'));
  // In-process training: on 60 images the worker threads' start-up costs more than they save.
  process.env.RANK1_WORKERS = '0';
  // The data room finds its cache through RANK1_HOME: keep this test's datasets in its own home.
  process.env.RANK1_HOME = path.join(tmp, 'home');
  service = createService({ home: path.join(tmp, 'home') });
  service.grant(ds);
  client = new ServiceClient(connectDirect(service));
  client.on((e) => events.push(e));
});
afterAll(async () => {
  service?.dispose();
  await fs.rm(tmp, { recursive: true, force: true });
});

const progressOf = (jobId: string) =>
  events
    .filter((e): e is Extract<ServiceEvent, { type: 'job.progress' }> => e.type === 'job.progress')
    .filter((e) => e.jobId === jobId && 'method' in e.progress)
    .map((e) => e.progress as CompareProgress);

describe('compare.start', () => {
  it('refuses a dataset or an OOD folder that was not granted, before any work', async () => {
    const outside = path.join(tmp, 'outside');
    await expect(
      client.call('compare.start', { dataset: outside, methods: ['rank1'] }),
    ).rejects.toMatchObject({
      code: 'forbidden',
    });
    await expect(
      client.call('compare.start', { dataset: ds, methods: ['rank1'], ood: outside }),
    ).rejects.toMatchObject({ code: 'forbidden', field: 'ood' });
  });

  it('trains each method on one split, reports progress method by method, and measures on the test split', async () => {
    let jobId = '';
    const result = await client.run<'compare'>(
      'compare.start',
      { dataset: ds, methods: ['deterministic', 'rank1'], arch: 'mlp', epochs: 1, seed: 3 },
      (e) => (jobId = 'jobId' in e ? e.jobId : jobId),
    );
    const r: CompareResult = result;
    expect(r.rows.map((row) => row.method)).toEqual(['deterministic', 'rank1']);
    expect(r.split).toBe('test');
    expect(r.n).toBe(12); // 20 % of 60
    expect(r.n_ood).toBeNull();
    expect(r.seed).toBe(3);
    for (const row of r.rows) {
      expect(row.reliability.reduce((s, b) => s + b.count, 0)).toBe(r.n);
      expect(row.auroc_flag).toBeNull();
    }
    await expect(fs.readdir(r.folder)).resolves.toEqual(['deterministic', 'rank1']);
    const progress = progressOf(jobId);
    // Methods in the order asked, steps never going back, the last one at the total.
    expect([...new Set(progress.map((p) => p.method))]).toEqual(['deterministic', 'rank1']);
    for (let i = 1; i < progress.length; i++)
      expect(progress[i]!.done).toBeGreaterThanOrEqual(progress[i - 1]!.done);
    const last = progress.at(-1)!;
    expect(last).toMatchObject({ method: 'rank1', index: 1, methods: 2, stage: 'measure' });
    expect(last.done).toBe(last.total);
  });

  it('compares an imported dataset by id without changing the splits it was imported with', async () => {
    const imported = await client.run<'import'>('datasets.import', { path: ds });
    const testFiles = () => client.call('datasets.files', { id: imported.id, split: 'test' });
    await expect(testFiles()).resolves.toMatchObject({ total: 0 });
    const r = await client.run<'compare'>('compare.start', {
      dataset: imported.id,
      methods: ['deterministic'],
      arch: 'mlp',
      epochs: 1,
    });
    expect(r).toMatchObject({ split: 'test', n: 12, dataset: ds });
    // The same pixel cache: no second copy of the dataset in the list.
    await expect(client.call('datasets.list', {})).resolves.toHaveLength(1);
    // A training started next in this session still sees the import's own splits.
    await expect(testFiles()).resolves.toMatchObject({ total: 0 });
  });

  it('cancels a running comparison', async () => {
    const { jobId } = await client.call('compare.start', {
      dataset: ds,
      methods: ['rank1', 'deterministic'],
      arch: 'mlp',
      epochs: 20,
    });
    const deadline = Date.now() + 120_000;
    while (!progressOf(jobId).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(progressOf(jobId).length).toBeGreaterThan(0);
    await expect(client.call('jobs.cancel', { jobId })).resolves.toEqual({ cancelled: true });
    while (
      !events.some((e) => 'jobId' in e && e.jobId === jobId && e.type !== 'job.progress') &&
      Date.now() < deadline
    )
      await new Promise((r) => setTimeout(r, 50));
    const end = events.filter((e) => 'jobId' in e && e.jobId === jobId && e.type !== 'job.progress').at(-1);
    expect(end?.type).toBe('job.cancelled');
    // The second method never started.
    expect(progressOf(jobId).every((p) => p.method === 'rank1')).toBe(true);
  });
});
