/**
 * datasets.import checks the disk before it writes the pixel cache (data/import.ts, one home of
 * the check: data/disk-space.ts): with less room than the cache and the reserve, the job fails in
 * one line naming the dataset folder, and the datasets folder stays empty. The free space is
 * declared where the service is made (ServiceOptions.freeSpace). Real MNIST PNGs, 2 per class.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceClient } from '../../src-main/contract.js';
import { DISK_RESERVE } from '../../src-main/data/disk-space.js';
import { createService, type Service } from '../../src-main/service/index.js';
import { MNIST } from '../data/helpers.js';
import { copyClasses } from '../shared-data.js';
import { errorOf } from './error-of.js';

let tmp: string;
let folder: string;
const services: Service[] = [];
const savedHome = process.env.RANK1_HOME;

beforeAll(async () => {
  tmp = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-dataset-space-')));
  folder = copyClasses(MNIST, path.join(tmp, 'digits'), ['3', '7'], 2);
});
afterAll(async () => {
  for (const s of services) s.dispose();
  if (savedHome === undefined) delete process.env.RANK1_HOME;
  else process.env.RANK1_HOME = savedHome;
  await fs.rm(tmp, { recursive: true, force: true });
});

/** A service whose data home (where datasets are cached: RANK1_HOME) sees `free` bytes free. */
function clientWith(free: number, home: string): ServiceClient {
  process.env.RANK1_HOME = path.join(tmp, home);
  const service = createService({ home: path.join(tmp, home), freeSpace: async () => free });
  services.push(service);
  service.grant(folder);
  return new ServiceClient(service);
}

describe('datasets.import and the free space of the disk', () => {
  it('with 100 MB free, the import fails naming the folder and both sizes; nothing is cached', async () => {
    const client = clientWith(100 * 2 ** 20, 'small-disk');
    const err = await errorOf(client.run('datasets.import', { path: folder, imageSize: 28 }));
    expect(err.code).toBe('failed');
    expect(err.message).toBe(
      `${folder}: the pixel cache needs 10 kB and the disk of the datasets folder has 100.0 MB free; ` +
        '256.0 MB must stay free (nothing was written)',
    );
    expect(await fs.readdir(path.join(tmp, 'small-disk', 'datasets')).catch(() => [])).toEqual([]);
  });

  it('with the reserve and the cache free, the same folder imports', async () => {
    const client = clientWith(DISK_RESERVE + 4 * 28 * 28 * 3, 'roomy-disk');
    const ds = await client.run<'import'>('datasets.import', { path: folder, imageSize: 28 });
    expect(ds.images).toBe(4);
  });
});
