import { describe, expect, it } from 'vitest';
import { assignSplits, mulberry32 } from '../../src-main/data/split.js';

const items = (perClass: Record<string, number>) =>
  Object.entries(perClass).flatMap(([label, n]) => Array.from({ length: n }, () => ({ label })));

describe('assignSplits', () => {
  it('is stratified and deterministic by seed', () => {
    const it = items({ a: 50, b: 20, c: 1 });
    const s1 = assignSplits(it, { valFraction: 0.1, testFraction: 0.2, seed: 7 });
    expect(assignSplits(it, { valFraction: 0.1, testFraction: 0.2, seed: 7 })).toEqual(s1);
    expect(assignSplits(it, { valFraction: 0.1, testFraction: 0.2, seed: 8 })).not.toEqual(s1);
    const count = (label: string, split: string) =>
      it.filter((x, i) => x.label === label && s1[i] === split).length;
    expect([count('a', 'train'), count('a', 'val'), count('a', 'test')]).toEqual([35, 5, 10]);
    expect([count('b', 'train'), count('b', 'val'), count('b', 'test')]).toEqual([14, 2, 4]);
    expect(count('c', 'train')).toBe(1); // a single image always trains
  });

  it('mulberry32 is reproducible and in [0, 1)', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
  });
});
