import { readdirSync } from 'node:fs';
import * as nodePath from 'node:path';
import sharp from 'sharp';
import type { ExampleSet } from '../../src-main/data/types.js';
import type { FactorOptions } from '../../src-main/engine/layers/rank1.js';

export const SHARED = nodePath.resolve(__dirname, '../../../shared');

/** A small in-memory ExampleSet of real grey images (first `perClass` files of each class). */
export async function loadGreySet(
  root: string,
  perClass: number,
  classes?: string[],
): Promise<{ set: ExampleSet; classes: string[] }> {
  const names = classes ?? readdirSync(root).sort();
  const px: Uint8Array[] = [];
  const labels: number[] = [];
  const files: string[] = [];
  for (const [ci, c] of names.entries()) {
    for (const f of readdirSync(nodePath.join(root, c)).sort().slice(0, perClass)) {
      const file = nodePath.join(root, c, f);
      const { data } = await sharp(file)
        .greyscale()
        .resize(28, 28)
        .raw()
        .toBuffer({ resolveWithObject: true });
      px.push(new Uint8Array(data));
      labels.push(ci);
      files.push(file);
    }
  }
  return { set: memorySet(px, labels, files, 28, 1), classes: names };
}

export function memorySet(
  px: Uint8Array[],
  labels: number[],
  files: string[],
  side: number,
  channels: 1 | 3,
): ExampleSet {
  const size = side * side * channels;
  return {
    count: px.length,
    height: side,
    width: side,
    channels,
    labels: Int32Array.from(labels),
    files,
    async read(idx) {
      const out = new Uint8Array(idx.length * size);
      Array.from(idx).forEach((i, n) => out.set(px[i]!, n * size));
      return out;
    },
  };
}

export function split(set: ExampleSet, every: number): { train: ExampleSet; val: ExampleSet } {
  const tr: number[] = [];
  const va: number[] = [];
  for (let i = 0; i < set.count; i++) (i % every === 0 ? va : tr).push(i);
  const sub = (idx: number[]): ExampleSet => ({
    ...set,
    count: idx.length,
    labels: Int32Array.from(idx, (i) => set.labels[i]!),
    files: idx.map((i) => set.files[i]!),
    read: (j) => set.read(Array.from(j, (k) => idx[k]!)),
  });
  return { train: sub(tr), val: sub(va) };
}

/** Rank-1 factor options for layer tests: K = 2, the spec's CIFAR prior and init (§2–3). */
export const TEST_FACTORS: FactorOptions = {
  method: 'rank1',
  members: 2,
  posterior: 'gaussian',
  randomSignInit: 0.5,
  priorMean: 1,
  priorStddev: 0.1,
  initStddev: 0.0316,
};
