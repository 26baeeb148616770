/**
 * train.start checks the models folder's disk once the network is built, before any epoch: a run
 * whose checkpoints would leave less than the reserve free fails in one line naming the model and
 * both sizes, and no model folder is made. The free space is declared where the service is made
 * (ServiceOptions.freeSpace).
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceClient } from '../../src-main/contract.js';
import { DISK_RESERVE } from '../../src-main/data/disk-space.js';
import { createService, type Service } from '../../src-main/service/index.js';
import { copyClasses, SHARED } from '../shared-data.js';
import { errorOf } from './error-of.js';

const MNIST = `${SHARED}/data/mnist`;
let tmp: string;
let home: string;
let ds: string;
let service: Service;
let client: ServiceClient;
const savedHome = process.env.RANK1_HOME;

beforeAll(async () => {
  tmp = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-train-space-')));
  home = path.join(tmp, 'home');
  process.env.RANK1_HOME = home;
  ds = copyClasses(MNIST, path.join(tmp, 'digits'), ['3', '7'], 8);
  // Room for the 16 digits' pixel cache (the import checks the disk too, for 16 × 2,352 bytes),
  // not for two checkpoints of the mlp (about 150 kB each).
  service = createService({ home, freeSpace: async () => DISK_RESERVE + 100_000 });
  service.grant(ds);
  client = new ServiceClient(service);
  await client.call('settings.set', { backend: 'cpu' });
});
afterAll(async () => {
  service?.dispose();
  if (savedHome === undefined) delete process.env.RANK1_HOME;
  else process.env.RANK1_HOME = savedHome;
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('train.start and the free space of the disk', () => {
  it('with the reserve and room for the data only, the run fails before its first epoch naming the model; no model folder is made', async () => {
    const err = await errorOf(
      client.run<'train'>('train.start', {
        dataset: ds,
        name: 'tight digits',
        arch: 'mlp',
        epochs: 1,
        members: 2,
        batchSize: 8,
        imageSize: 28,
      }),
    );
    expect(err.code).toBe('failed');
    expect(err.message).toMatch(
      /^tight digits: training needs [\d.]+ [kM]B and the disk of the models folder has 256\.1 MB free; 256\.0 MB must stay free \(nothing was written\)$/,
    );
    expect(await fs.readdir(path.join(home, 'models')).catch(() => [])).toEqual([]);
  });
});
