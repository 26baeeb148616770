/**
 * The dataset import checks the disk before it writes the pixel cache: a record for every image the
 * cache cannot reuse (new or changed since an earlier import) must leave the reserve free
 * (data/disk-space.ts). A refusal names the dataset folder and both sizes, and nothing is written
 * (no cache folder, or the earlier cache untouched). Real MNIST PNGs, 3 per class, in a temp folder.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DISK_RESERVE, DiskSpaceError } from '../../src-main/data/disk-space.js';
import { datasetsDir } from '../../src-main/data/catalog.js';
import { importDataset } from '../../src-main/data/index.js';
import { MNIST, tempDirs } from './helpers.js';

let t: Awaited<ReturnType<typeof tempDirs>>;
let root: string;
/** 28 × 28 pixels stored in colour ('auto' channels keep 3 in the cache). */
const RECORD = 28 * 28 * 3;

async function addDigits(digit: string, count: number, skip = 0): Promise<void> {
  const names = (await fs.readdir(path.join(MNIST, digit))).sort().slice(skip, skip + count);
  await fs.mkdir(path.join(root, digit), { recursive: true });
  for (const n of names) await fs.copyFile(path.join(MNIST, digit, n), path.join(root, digit, n));
}

beforeEach(async () => {
  t = await tempDirs();
  root = await fs.realpath(t.dir);
  await addDigits('3', 3);
  await addDigits('7', 3);
});
afterEach(async () => {
  await t.cleanup();
});

const free = (bytes: number) => async () => bytes;

describe('importDataset and the free space of the disk', () => {
  it('refuses a pixel cache that would leave less than the reserve, naming the folder; nothing is written', async () => {
    const err = await importDataset(root, {
      imageSize: 28,
      freeSpace: free(DISK_RESERVE + 6 * RECORD - 1),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiskSpaceError);
    expect((err as Error).message).toBe(
      `${root}: the pixel cache needs 14 kB and the disk of the datasets folder has 256.0 MB free; ` +
        '256.0 MB must stay free (nothing was written)',
    );
    expect(await fs.readdir(datasetsDir()).catch(() => [])).toEqual([]);
  });

  it('imports with exactly the cache and the reserve free', async () => {
    const ds = await importDataset(root, { imageSize: 28, freeSpace: free(DISK_RESERVE + 6 * RECORD) });
    expect(ds.report.images).toBe(6);
  });

  it('a re-import counts the cache already there: only the growth must fit', async () => {
    const first = await importDataset(root, { imageSize: 28, freeSpace: free(DISK_RESERVE + 6 * RECORD) });
    const cacheDir = path.join(datasetsDir(), first.id);
    // Nothing new: no room at all beyond the reserve is needed.
    const again = await importDataset(root, { imageSize: 28, freeSpace: free(DISK_RESERVE) });
    expect(again.report.cached).toBe(6);
    // Two more images need two more records; one record of room is refused, the cache untouched.
    await addDigits('3', 2, 3);
    const before = await fs.readFile(path.join(cacheDir, 'index.json'));
    const pack = (await fs.stat(path.join(cacheDir, 'pixels.bin'))).size;
    const err = await importDataset(root, { imageSize: 28, freeSpace: free(DISK_RESERVE + RECORD) }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DiskSpaceError);
    expect((err as Error).message).toMatch(new RegExp(`^${root}: the pixel cache needs 5 kB and `));
    expect(await fs.readFile(path.join(cacheDir, 'index.json'))).toEqual(before);
    expect((await fs.stat(path.join(cacheDir, 'pixels.bin'))).size).toBe(pack);
    const grown = await importDataset(root, { imageSize: 28, freeSpace: free(DISK_RESERVE + 2 * RECORD) });
    expect(grown.report.images).toBe(8);
  });

  it('a re-import of changed images counts their new records (the pack keeps the old ones)', async () => {
    await importDataset(root, { imageSize: 28, freeSpace: free(DISK_RESERVE + 6 * RECORD) });
    const [a, b] = (await fs.readdir(path.join(root, '7'))).sort();
    const later = new Date(Date.now() + 60_000);
    for (const n of [a!, b!]) await fs.utimes(path.join(root, '7', n), later, later);
    const err = await importDataset(root, { imageSize: 28, freeSpace: free(DISK_RESERVE + RECORD) }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DiskSpaceError);
    expect((err as Error).message).toMatch(new RegExp(`^${root}: the pixel cache needs 5 kB and `));
    const again = await importDataset(root, { imageSize: 28, freeSpace: free(DISK_RESERVE + 2 * RECORD) });
    expect(again.report.decoded).toBe(2);
  });
});
