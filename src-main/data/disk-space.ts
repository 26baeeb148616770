/**
 * Room on the disk before the app writes a user's bulk data into its data home: a model import, a
 * browser upload, an imported backbone, the first-start demo model. A model may honestly declare
 * up to the format's 2 GB of weights and an upload up to 4 GB; writing that onto a nearly full disk
 * would fail midway or, worse, leave the system and the app's own checkpoints no space. So each of
 * those writes compares what it will write with the disk's free space first and refuses, writing
 * nothing. Here (the data room, which every room that writes may import) because the engine, the
 * store and the service all check: one reserve, one wording.
 */
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';

/** Free bytes (for this user) on the file system holding the folder `dir`. */
export type FreeSpace = (dir: string) => Promise<number>;

/** What a write of bulk data must leave free: a full disk breaks more than the write (the OS, other apps, training checkpoints). */
export const DISK_RESERVE = 256 * 2 ** 20;

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
 * asked) would leave less than the reserve free, in words naming `place` (the folder as a person
 * knows it: "the models folder"); undefined when there is room. A file system that cannot say its
 * free space (an error from `freeSpace`) does not block the write: the write itself still fails
 * cleanly on a full disk. Callers check before they create anything, so the words end in
 * "(nothing was written)".
 */
export async function lackOfSpace(
  dir: string,
  need: number,
  place: string,
  freeSpace: FreeSpace = statfsFree,
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
  if (free === undefined || free - need >= DISK_RESERVE) return undefined;
  return `needs ${byteSize(need)} and the disk of ${place} has ${byteSize(free)} free; ${byteSize(DISK_RESERVE)} must stay free (nothing was written)`;
}

/** A write refused before it began because the disk lacks room; the message is one line. */
export class DiskSpaceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DiskSpaceError';
  }
}

/**
 * Throws a DiskSpaceError "`label`: `what` needs … (nothing was written)" when writing `need`
 * bytes under `dir` would leave less than the reserve free (see lackOfSpace).
 */
export async function checkRoom(
  dir: string,
  need: number,
  words: { label: string; what: string; place: string },
  freeSpace?: FreeSpace,
): Promise<void> {
  const lack = await lackOfSpace(dir, need, words.place, freeSpace);
  if (lack) throw new DiskSpaceError(`${words.label}: ${words.what} ${lack}`);
}
