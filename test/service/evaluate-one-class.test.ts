/**
 * `evaluate` on a folder holding one class of the model (a folder of new photos of one kind, the
 * usual way to check a model on fresh images): measured, not refused as "a classifier needs at
 * least two class folders", which is a rule for training. Uses the shipped demo model (no training).
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceClient } from '../../src-main/contract.js';
import { createService, type Service } from '../../src-main/service/index.js';
import { connectDirect } from '../../src-main/transports/direct.js';
import { SHARED } from '../shared-data.js';

const demo = path.resolve(__dirname, '../../resources/demo/digits');
let tmp: string;
let threes: string;
let service: Service;
let client: ServiceClient;

beforeAll(async () => {
  tmp = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-eval-one-class-')));
  threes = path.join(tmp, 'new threes');
  await fs.mkdir(path.join(threes, '3'), { recursive: true });
  const files = (await fs.readdir(path.join(SHARED, 'data/mnist/3'))).sort().slice(0, 12);
  for (const f of files) await fs.copyFile(path.join(SHARED, 'data/mnist/3', f), path.join(threes, '3', f));
  process.env.RANK1_WORKERS = '0';
  process.env.RANK1_HOME = path.join(tmp, 'home');
  service = createService({ home: path.join(tmp, 'home') });
  service.grant(threes);
  service.grant(demo);
  client = new ServiceClient(connectDirect(service));
});
afterAll(async () => {
  service?.dispose();
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('evaluate on a one-class folder', () => {
  it('measures every image of that class', async () => {
    const r = await client.run<'evaluate'>('evaluate', { model: demo, dataset: threes });
    expect(r.split).toBe('all');
    expect(r.metrics.n).toBe(12);
    expect(r.metrics.accuracy).toBeGreaterThan(0.5);
  });
});
