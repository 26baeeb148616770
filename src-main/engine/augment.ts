/**
 * Augmentation on uint8 HWC images (spec §4, CIFAR pipeline): pad by `pad` pixels with zeros and
 * take a random crop of the original size, then a random horizontal flip. Seeded, in place.
 */
import type { Rng } from './random.js';

export function augmentBatch(
  pixels: Uint8Array,
  count: number,
  shape: readonly [number, number, number],
  opts: { crop: boolean; flip: boolean; pad?: number },
  rng: Rng,
): Uint8Array {
  const [h, w, c] = shape;
  // 4 px at 32 px (the reference), scaled with the image.
  const pad = opts.pad ?? Math.max(1, Math.round(h / 8));
  const size = h * w * c;
  const out = new Uint8Array(count * size);
  for (let i = 0; i < count; i++) {
    const dy = opts.crop ? rng.int(2 * pad + 1) - pad : 0;
    const dx = opts.crop ? rng.int(2 * pad + 1) - pad : 0;
    const flip = opts.flip && rng.next() < 0.5;
    const src = i * size;
    for (let y = 0; y < h; y++) {
      const sy = y + dy;
      if (sy < 0 || sy >= h) continue; // zero padding
      for (let x = 0; x < w; x++) {
        const sx0 = x + dx;
        if (sx0 < 0 || sx0 >= w) continue;
        const sx = flip ? w - 1 - sx0 : sx0;
        const o = src + (y * w + x) * c;
        const s = src + (sy * w + sx) * c;
        for (let k = 0; k < c; k++) out[o + k] = pixels[s + k]!;
      }
    }
  }
  return out;
}
