import { describe, expect, it } from 'vitest';
import { augmentBatch } from '../../src-main/engine/augment.js';
import { Rng } from '../../src-main/engine/random.js';

const img = (w: number, h: number) => Uint8Array.from({ length: w * h }, (_, i) => i + 1);

describe('augmentBatch (spec §4: pad-and-crop, horizontal flip)', () => {
  it('is the identity with both off', () => {
    const px = img(4, 4);
    expect(Array.from(augmentBatch(px, 1, [4, 4, 1], { crop: false, flip: false }, new Rng(1)))).toEqual(
      Array.from(px),
    );
  });
  it('flips rows left-right', () => {
    const px = img(3, 1);
    const seen = new Set<string>();
    const rng = new Rng(2);
    for (let i = 0; i < 20; i++)
      seen.add(Array.from(augmentBatch(px, 1, [1, 3, 1], { crop: false, flip: true }, rng)).join(','));
    expect(seen).toEqual(new Set(['1,2,3', '3,2,1']));
  });
  it('shifts by at most `pad` pixels and fills with zeros', () => {
    const px = img(8, 8);
    const rng = new Rng(3);
    for (let i = 0; i < 30; i++) {
      const out = augmentBatch(px, 1, [8, 8, 1], { crop: true, flip: false, pad: 2 }, rng);
      const kept = Array.from(out).filter((v) => v > 0);
      expect(kept.length).toBeGreaterThanOrEqual(6 * 6); // at most 2 rows and 2 columns lost
      // every kept value sits at its original position shifted by the same (dy, dx)
      const first = out.findIndex((v) => v > 0);
      const shift = first - (out[first]! - 1);
      out.forEach((v, j) => v > 0 && expect(j - (v - 1)).toBe(shift));
    }
  });
  it('is seeded: the same seed gives the same batch', () => {
    const px = img(8, 8);
    const a = augmentBatch(px, 1, [8, 8, 1], { crop: true, flip: true }, new Rng(9));
    const b = augmentBatch(px, 1, [8, 8, 1], { crop: true, flip: true }, new Rng(9));
    expect(Array.from(a)).toEqual(Array.from(b));
  });
});
