/**
 * Imported backbones (issue 15): a TF.js model folder the user gives (a path, or "Import a
 * backbone…") is checked, then copied into `<data home>/backbones/<imported-XXXXXXXXXXXX>/` with a
 * small `backbone.json` recording its embedding output. Models store that registered name, which
 * the model.json schema accepts and which resolves only inside that folder, so a model file can
 * never make the app read a path of its choosing.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { checkRoom, dataHome, type FreeSpace } from '../../data/index.js';
import { IMPORTED_BACKBONE } from './catalog.js';
import type { Embedder } from './embedder.js';
import { folderCopyBytes, writeFolderCopy } from './folder-copy.js';
import { readModelFolder, ModelFolderError, type ModelFolder } from './model-files.js';

const SIDECAR = 'backbone.json';

interface Sidecar {
  /** The embedding output (layer name or `layers[i]`); absent: the model's own output. */
  output?: string;
  /** The folder checksum (model-files.ts) the copy must still have. */
  sha256: string;
  /** The folder's base name when it was imported, for people. */
  source?: string;
}

export function isImportedBackbone(name: string): boolean {
  return IMPORTED_BACKBONE.test(name);
}

/** The registered name: a digest of the folder checksum and the embedding output. */
export function importedName(folderSha256: string, output: string | undefined): string {
  const digest = crypto
    .createHash('sha256')
    .update(`${folderSha256}#${output ?? ''}`)
    .digest('hex');
  return `imported-${digest.slice(0, 12)}`;
}

function backbonesDir(home?: string): string {
  return path.join(home ?? dataHome(), 'backbones');
}

/** The folder a registered name resolves to (only inside the backbones folder). */
export function importedDir(name: string, home?: string): string {
  if (!isImportedBackbone(name)) throw new Error(`"${name}" is not an imported backbone name`);
  return path.join(backbonesDir(home), name);
}

export interface RegisterOptions {
  /** The data home (default: `dataHome()`). */
  home?: string;
  /** Free bytes on the backbones folder's disk; the real disk's by default (a test declares one). */
  freeSpace?: FreeSpace;
}

/**
 * Copies a checked folder (and the output its embedder uses) into the backbones folder under its
 * registered name; a copy already there is kept. The disk is checked for the copy's bytes first
 * (a DiskSpaceError naming the folder, nothing written). Returns the name.
 */
export async function registerImported(
  folder: ModelFolder,
  embedder: Pick<Embedder, 'output'>,
  { home, freeSpace }: RegisterOptions = {},
): Promise<string> {
  const name = importedName(folder.sha256, embedder.output);
  const dir = importedDir(name, home);
  const present = await readImported(name, home).then(
    () => true,
    () => false,
  );
  if (present) return name;
  const sidecar: Sidecar = {
    ...(embedder.output ? { output: embedder.output } : {}),
    sha256: folder.sha256,
    source: path.basename(folder.dir),
  };
  const sidecarJson = JSON.stringify(sidecar, null, 2);
  const need = folderCopyBytes(folder) + Buffer.byteLength(sidecarJson);
  await checkRoom(
    backbonesDir(home),
    need,
    { label: folder.dir, what: 'the backbone', place: 'the backbones folder' },
    freeSpace,
  );
  const tmp = path.join(backbonesDir(home), `.${name}.import-${process.pid}-${Date.now()}`);
  try {
    await writeFolderCopy(tmp, folder);
    await fs.writeFile(path.join(tmp, SIDECAR), sidecarJson);
    // A damaged earlier copy (readImported failed) is replaced; only our own folder name is touched.
    await fs.rm(dir, { recursive: true, force: true });
    await fs.rename(tmp, dir);
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
  return name;
}

/** A registered backbone's folder and output, checked against the checksum it was imported with. */
export async function readImported(
  name: string,
  home?: string,
): Promise<{ folder: ModelFolder; output?: string }> {
  const dir = importedDir(name, home);
  let sidecar: Sidecar;
  try {
    sidecar = JSON.parse(await fs.readFile(path.join(dir, SIDECAR), 'utf8')) as Sidecar;
  } catch {
    throw new ModelFolderError(
      `imported backbone "${name}" is not on this computer: import its folder again ("Import a backbone…" or --backbone PATH:/folder)`,
    );
  }
  const folder = await readModelFolder(dir);
  const output = typeof sidecar.output === 'string' ? sidecar.output : undefined;
  if (folder.sha256 !== sidecar.sha256 || importedName(folder.sha256, output) !== name)
    throw new ModelFolderError(
      `imported backbone "${name}" was changed after import (SHA-256 ${folder.sha256.slice(0, 12)}…): import its folder again`,
    );
  return { folder, ...(output ? { output } : {}) };
}

/** The registered names in the backbones folder (for the UI's list). */
export async function listImported(home?: string): Promise<{ name: string; source?: string }[]> {
  const names = await fs.readdir(backbonesDir(home)).catch(() => [] as string[]);
  const out: { name: string; source?: string }[] = [];
  for (const name of names.filter(isImportedBackbone).sort()) {
    try {
      const s = JSON.parse(
        await fs.readFile(path.join(backbonesDir(home), name, SIDECAR), 'utf8'),
      ) as Sidecar;
      out.push({ name, ...(typeof s.source === 'string' ? { source: s.source.slice(0, 200) } : {}) });
    } catch {
      // Not one of ours, or damaged: loading it says so; the list shows only usable ones.
    }
  }
  return out;
}
