/**
 * Views over ExampleSets: subsets, concatenation, selection by file. No pixels are copied.
 */
import type { ExampleSet } from '../data/types.js';

export function subset(set: ExampleSet, indices: ArrayLike<number>): ExampleSet {
  const map = Array.from(indices);
  return {
    count: map.length,
    height: set.height,
    width: set.width,
    channels: set.channels,
    labels: Int32Array.from(map, (i) => set.labels[i]!),
    files: map.map((i) => set.files[i]!),
    read: (idx) => set.read(Array.from(idx, (i) => map[i]!)),
  };
}

export function concat(sets: ExampleSet[]): ExampleSet {
  const nonEmpty = sets.filter((s) => s.count > 0);
  const first = nonEmpty[0] ?? sets[0]!;
  const offsets: number[] = [];
  let total = 0;
  for (const s of nonEmpty) {
    offsets.push(total);
    total += s.count;
  }
  const locate = (i: number) => {
    let k = nonEmpty.length - 1;
    while (k > 0 && offsets[k]! > i) k--;
    return [k, i - offsets[k]!] as const;
  };
  const size = first.height * first.width * first.channels;
  return {
    count: total,
    height: first.height,
    width: first.width,
    channels: first.channels,
    labels: Int32Array.from({ length: total }, (_, i) => {
      const [k, j] = locate(i);
      return nonEmpty[k]!.labels[j]!;
    }),
    files: Array.from({ length: total }, (_, i) => {
      const [k, j] = locate(i);
      return nonEmpty[k]!.files[j]!;
    }),
    async read(idx) {
      const out = new Uint8Array(idx.length * size);
      // One read per source set, then scatter back into the order asked.
      const groups = new Map<number, { pos: number[]; local: number[] }>();
      Array.from(idx).forEach((i, pos) => {
        const [k, j] = locate(i);
        const g = groups.get(k) ?? { pos: [], local: [] };
        g.pos.push(pos);
        g.local.push(j);
        groups.set(k, g);
      });
      for (const [k, g] of groups) {
        const px = await nonEmpty[k]!.read(g.local);
        g.pos.forEach((pos, n) => out.set(px.subarray(n * size, (n + 1) * size), pos * size));
      }
      return out;
    },
  };
}

/** The examples whose source file is in `files` (e.g. a model's held-out list). */
export function byFiles(set: ExampleSet, files: readonly string[]): ExampleSet {
  const want = new Set(files);
  const idx: number[] = [];
  set.files.forEach((f, i) => want.has(f) && idx.push(i));
  return subset(set, idx);
}
