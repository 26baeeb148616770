import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DISK_RESERVE,
  DiskSpaceError,
  byteSize,
  checkRoom,
  lackOfSpace,
  statfsFree,
} from '../../src-main/data/disk-space.js';

let tmp: string;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-disk-'));
});
afterEach(() => fs.rm(tmp, { recursive: true, force: true }));

describe('room on the disk before bulk data is written', () => {
  it("statfsFree reads the real disk's free bytes", async () => {
    const free = await statfsFree(tmp);
    expect(Number.isSafeInteger(free)).toBe(true);
    expect(free).toBeGreaterThan(0);
  });

  it('asks about the nearest folder that exists (the models folder may not yet)', async () => {
    const asked: string[] = [];
    const lack = await lackOfSpace(path.join(tmp, 'home', 'models'), 10, 'the models folder', async (dir) => {
      asked.push(dir);
      return DISK_RESERVE + 10;
    });
    expect(lack).toBeUndefined();
    expect(asked).toEqual([tmp]);
  });

  it('says what is needed and free when the reserve would not stay free', async () => {
    const free = async () => DISK_RESERVE + 2 ** 20 - 1;
    expect(await lackOfSpace(tmp, 2 ** 20 - 1, 'the models folder', free)).toBeUndefined();
    expect(await lackOfSpace(tmp, 2 ** 20, 'the models folder', free)).toBe(
      'needs 1.0 MB and the disk of the models folder has 257.0 MB free; 256.0 MB must stay free (nothing was written)',
    );
  });

  it('a disk that cannot say its free space does not block the import', async () => {
    expect(
      await lackOfSpace(tmp, 2 ** 40, 'the models folder', async () => {
        throw Object.assign(new Error('statfs not supported'), { code: 'ENOSYS' });
      }),
    ).toBeUndefined();
  });

  it('checkRoom throws one line naming the source, what is written and the place', async () => {
    const free = async () => DISK_RESERVE;
    const err = await checkRoom(
      tmp,
      3 * 2 ** 20,
      { label: 'photos', what: 'the upload', place: 'the data home' },
      free,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiskSpaceError);
    expect((err as Error).message).toBe(
      'photos: the upload needs 3.0 MB and the disk of the data home has 256.0 MB free; 256.0 MB must stay free (nothing was written)',
    );
    await expect(
      checkRoom(tmp, 0, { label: 'photos', what: 'the upload', place: 'the data home' }, free),
    ).resolves.toBeUndefined();
  });

  it('sizes for a person', () => {
    expect([1, 2048, 3 * 2 ** 20, 2 * 2 ** 30].map(byteSize)).toEqual(['1 kB', '2 kB', '3.0 MB', '2.00 GB']);
  });
});
