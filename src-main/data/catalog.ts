/**
 * The datasets folder under `dataHome()`: one sub-folder per (root, preprocessing), named by a
 * hash of both; listing and removal.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { type DatasetSummary, readSummary } from './cache.js';
import { dataHome } from './home.js';
import type { Preprocessing } from './types.js';

export const datasetsDir = (): string => path.join(dataHome(), 'datasets');

/** The cache folder id of a dataset: its real root and what its stored pixels depend on. */
export function datasetId(
  root: string,
  prep: Omit<Preprocessing, 'channels'>,
  storageChannels: 1 | 3,
): string {
  const key = JSON.stringify([root, prep.size, prep.fit, storageChannels, prep.background]);
  return crypto.createHash('sha256').update(key).digest('hex').slice(0, 16);
}

/** Datasets in the cache folder (those whose import completed). */
export async function listDatasets(): Promise<DatasetSummary[]> {
  let names: string[];
  try {
    names = await fs.readdir(datasetsDir());
  } catch {
    return [];
  }
  const all = await Promise.all(names.map((n) => readSummary(path.join(datasetsDir(), n))));
  return all
    .filter((s): s is DatasetSummary => s !== null)
    .sort((a, b) => (a.importedAt < b.importedAt ? 1 : -1));
}

/** Delete a dataset's cache (pixels, index, summary). Unknown ids are ignored. */
export async function removeDataset(id: string): Promise<void> {
  if (!/^[0-9a-f]{16}$/.test(id)) throw new Error(`not a dataset id: ${id}`);
  await fs.rm(path.join(datasetsDir(), id), { recursive: true, force: true });
}
