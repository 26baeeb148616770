/**
 * models.import checks the disk before it writes: a model that would leave less than the reserve
 * free on the models folder's disk is refused in one line naming the zip (or folder) and both
 * sizes, and nothing lands in the models folder. The free space is declared where the service is
 * made (ServiceOptions.freeSpace); the model is the app's real demo model.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createService, type Service } from '../../src-main/service/index.js';
import { DISK_RESERVE } from '../../src-main/data/disk-space.js';
import { zipModelFolder } from '../../src-main/store/index.js';
import { errorOf } from './error-of.js';

const DEMO = path.resolve(__dirname, '../../resources/demo/digits');
let tmp: string;
let zipFile: string;
let zip: Uint8Array;
let folder: string;
let demoBytes: number;

beforeAll(async () => {
  tmp = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-import-space-')));
  ({ zip } = await zipModelFolder(DEMO));
  zipFile = path.join(tmp, 'digits.rank1.zip');
  await fs.writeFile(zipFile, zip);
  folder = path.join(tmp, 'digits');
  await fs.cp(DEMO, folder, { recursive: true });
  demoBytes = 0;
  for (const name of await fs.readdir(DEMO)) demoBytes += (await fs.stat(path.join(DEMO, name))).size;
});

afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

function serviceWith(free: number, home: string): Service {
  const service = createService({ home: path.join(tmp, home), freeSpace: async () => free });
  service.grant(tmp);
  return service;
}

describe('models.import and the free space of the disk', () => {
  it('with 100 MB free, the demo model (zip, dropped zip or folder) is refused naming it and both sizes; nothing is written', async () => {
    const service = serviceWith(100 * 2 ** 20, 'small-disk');
    try {
      const tries: [unknown, string][] = [
        [{ path: zipFile }, zipFile],
        [
          { file: { name: 'digits.rank1.zip', base64: Buffer.from(zip).toString('base64') } },
          'digits.rank1.zip',
        ],
        [{ path: folder }, folder],
      ];
      for (const [args, named] of tries) {
        const err = await errorOf(service.call('models.import', args));
        expect(err.code).toBe('failed');
        expect(err.message).toContain(`${named}: the model needs `);
        expect(err.message).toMatch(/needs 2\.\d MB and the disk of the models folder has 100\.0 MB free/);
        expect(err.message).toContain('(nothing was written)');
        expect(err.message.split('\n')).toHaveLength(1);
      }
      const models = path.join(tmp, 'small-disk', 'models');
      expect(await fs.readdir(models).catch(() => [])).toEqual([]);
      expect(await service.call('models.list', {})).toEqual([]);
    } finally {
      service.dispose();
    }
  });

  it('with the reserve and the model free, the same zip imports', async () => {
    const service = serviceWith(DISK_RESERVE + demoBytes + 2 ** 20, 'roomy-disk');
    try {
      expect(await service.call('models.import', { path: zipFile })).toMatchObject({ status: 'complete' });
    } finally {
      service.dispose();
    }
  });
});
