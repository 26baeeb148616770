/**
 * Writes a read and checked TF.js model folder (model.json and its weight files, at the manifest's
 * paths) into a new folder: the staging step of the download cache (index.ts) and of imported
 * backbones (imported.ts), each of which then renames the folder into place.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { weightPaths, type ModelFolder } from './model-files.js';

/** The bytes writeFolderCopy writes (for the disk check before it). */
export function folderCopyBytes(folder: ModelFolder): number {
  return (
    Buffer.byteLength(JSON.stringify(folder.json)) + folder.weights.reduce((a, w) => a + w.byteLength, 0)
  );
}

export async function writeFolderCopy(dir: string, folder: ModelFolder): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'model.json'), JSON.stringify(folder.json));
  const files = weightPaths(folder.json);
  for (let i = 0; i < files.length; i++) {
    const target = path.resolve(dir, files[i]!);
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.writeFile(target, folder.weights[i]!);
  }
}
