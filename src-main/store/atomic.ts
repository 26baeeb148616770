/**
 * Atomic file writes: a temporary sibling in the same folder (same file system, so rename is
 * atomic), fsync, then rename over the target. A crash leaves either the old or the new file.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';

export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const dir = nodePath.dirname(file);
  await fs.mkdir(dir, { recursive: true });
  const tmp = nodePath.join(dir, `.${nodePath.basename(file)}.tmp-${randomBytes(4).toString('hex')}`);
  try {
    const handle = await fs.open(tmp, 'wx');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  // Make the rename itself durable where the platform allows syncing a directory.
  await fs
    .open(dir, 'r')
    .then(async (h) => {
      await h.sync().catch(() => undefined);
      await h.close();
    })
    .catch(() => undefined);
}
