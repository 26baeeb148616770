/**
 * backbones.import checks the disk before it copies: a backbone folder whose copy would leave less
 * than the reserve free on the data home's disk is refused in one line naming the folder and both
 * sizes, and nothing lands in the backbones folder. The free space is declared where the service
 * is made (ServiceOptions.freeSpace); the backbone is a tiny real TF.js LayersModel folder.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceClient } from '../../src-main/contract.js';
import { DISK_RESERVE } from '../../src-main/data/disk-space.js';
import { createService, type Service } from '../../src-main/service/index.js';
import { saveTinyBackbone } from '../tfjs-folder.js';
import { errorOf } from './error-of.js';

let tmp: string;
let folder: string;
let folderBytes: number;
const services: Service[] = [];
const savedHome = process.env.RANK1_HOME;

beforeAll(async () => {
  tmp = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-backbone-space-')));
  folder = path.join(tmp, 'my-backbone');
  await saveTinyBackbone(folder, 6);
  folderBytes = 0;
  for (const name of await fs.readdir(folder)) folderBytes += (await fs.stat(path.join(folder, name))).size;
});
afterAll(async () => {
  for (const s of services) s.dispose();
  if (savedHome === undefined) delete process.env.RANK1_HOME;
  else process.env.RANK1_HOME = savedHome;
  await fs.rm(tmp, { recursive: true, force: true });
});

/** A service whose data home (where backbones are kept: RANK1_HOME) sees `free` bytes free. */
async function clientWith(free: number, home: string): Promise<ServiceClient> {
  process.env.RANK1_HOME = path.join(tmp, home);
  const service = createService({ home: path.join(tmp, home), freeSpace: async () => free });
  services.push(service);
  service.grant(folder);
  const client = new ServiceClient(service);
  await client.call('settings.set', { backend: 'cpu' });
  return client;
}

describe('backbones.import and the free space of the disk', () => {
  it('with 100 MB free, the folder is refused naming it and both sizes; nothing is copied', async () => {
    const client = await clientWith(100 * 2 ** 20, 'small-disk');
    const err = await errorOf(client.call('backbones.import', { path: folder }));
    expect(err.code).toBe('failed');
    expect(err.message).toMatch(
      new RegExp(
        `^${folder.replace(/[.]/g, '\\.')}: the backbone needs \\d+ kB and the disk of the backbones folder has 100\\.0 MB free; 256\\.0 MB must stay free \\(nothing was written\\)$`,
      ),
    );
    const kept = await fs.readdir(path.join(tmp, 'small-disk', 'backbones')).catch(() => []);
    expect(kept).toEqual([]);
  });

  it('with the reserve and the folder free, the same folder imports', async () => {
    const client = await clientWith(DISK_RESERVE + folderBytes + 2 ** 20, 'roomy-disk');
    const b = await client.call('backbones.import', { path: folder });
    expect(b.name).toMatch(/^imported-[0-9a-f]{12}$/);
    expect(await fs.readdir(path.join(tmp, 'roomy-disk', 'backbones'))).toEqual([b.name]);
  });
});
