/** Deterministic, stratified train/val/test assignment. */
import type { SplitName } from './scan.js';

/** mulberry32: a small, well-mixed 32-bit PRNG; same seed → same sequence on every platform. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a, to give each class its own PRNG stream (adding a class does not reshuffle the others). */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export interface SplitOptions {
  valFraction: number;
  testFraction: number;
  seed: number;
}

/**
 * Assign a split to each item. Items with a given split keep it, except that when no item has a
 * given 'val', a `valFraction` of each class's given 'train' items becomes val. Otherwise, per
 * class (in input order, shuffled by the seed): round(n·test) → test, round(n·val) → val, the rest
 * train, always leaving at least one training example.
 */
export function assignSplits(
  items: readonly { label: string; split?: SplitName }[],
  opts: SplitOptions,
): SplitName[] {
  const out: SplitName[] = items.map((it) => it.split ?? 'train');
  const given = items.some((it) => it.split !== undefined);
  const carveTest = !given;
  const carveVal = !given || !items.some((it) => it.split === 'val');
  const byClass = new Map<string, number[]>();
  items.forEach((it, i) => {
    if (given && it.split !== 'train') return;
    let list = byClass.get(it.label);
    if (!list) byClass.set(it.label, (list = []));
    list.push(i);
  });
  for (const [label, idx] of byClass) {
    const rand = mulberry32((opts.seed ^ fnv1a(label)) >>> 0);
    for (let i = idx.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [idx[i], idx[j]] = [idx[j]!, idx[i]!];
    }
    const n = idx.length;
    let nTest = carveTest ? Math.round(n * opts.testFraction) : 0;
    let nVal = carveVal ? Math.round(n * opts.valFraction) : 0;
    while (n > 0 && nTest + nVal > n - 1) {
      if (nVal >= nTest && nVal > 0) nVal--;
      else nTest--;
    }
    idx.forEach((item, k) => {
      out[item] = k < nTest ? 'test' : k < nTest + nVal ? 'val' : 'train';
    });
  }
  return out;
}
