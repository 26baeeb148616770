/**
 * Room on the disk before a model is unpacked or copied into the models folder. A model may
 * honestly declare up to the format's 2 GB of weights; writing that onto a nearly full disk would
 * fail midway or, worse, leave the system and the app's own checkpoints no space. So an import
 * compares what it will write with the disk's free space first and refuses, writing nothing.
 */
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';

/** Free bytes (for this user) on the file system holding the folder `dir`. */
export type FreeSpace = (dir: string) => Promise<number>;

/** What an import must leave free: a full disk breaks more than the import (the OS, other apps, training checkpoints). */
export const IMPORT_DISK_RESERVE = 256 * 2 ** 20;

/** The real disk: `statfs` (Node ≥ 18.15), the blocks an unprivileged user may still use. */
export const statfsFree: FreeSpace = async (dir) => {
  const s = await fs.statfs(dir);
  return s.bavail * s.bsize;
};

/** `n` bytes for a person: kB, MB or GB. */
export function byteSize(n: number): string {
  if (n < 2 ** 20) return `${Math.ceil(n / 2 ** 10)} kB`;
  if (n < 2 ** 30) return `${(n / 2 ** 20).toFixed(1)} MB`;
  return `${(n / 2 ** 30).toFixed(2)} GB`;
}

/**
 * Why writing `need` bytes under `dir` (which may not exist yet: its nearest existing folder is
 * asked) would leave less than the reserve free, in words; undefined when there is room. A file
 * system that cannot say its free space (an error from `freeSpace`) does not block the write: the
 * write itself still fails cleanly on a full disk.
 */
export async function lackOfSpace(
  dir: string,
  need: number,
  freeSpace: FreeSpace,
): Promise<string | undefined> {
  let at = nodePath.resolve(dir);
  while (
    !(await fs.stat(at).then(
      (s) => s.isDirectory(),
      () => false,
    ))
  ) {
    const up = nodePath.dirname(at);
    if (up === at) return undefined;
    at = up;
  }
  const free = await freeSpace(at).catch(() => undefined);
  if (free === undefined || free - need >= IMPORT_DISK_RESERVE) return undefined;
  return `needs ${byteSize(need)} and the disk of the models folder has ${byteSize(free)} free; ${byteSize(IMPORT_DISK_RESERVE)} must stay free`;
}
