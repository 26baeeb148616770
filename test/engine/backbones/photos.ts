/** Real photos for backbone tests: the first CIFAR-10 training JPEGs of a few classes, as uint8 HWC. */
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { SHARED } from '../../shared-data.js';

const CIFAR = `${SHARED}/data/cifar10/train`;

/** `n` photos (classes taken in turn), decoded to RGB and resized to `size`² (CIFAR is 32²). */
export async function cifarPhotos(n: number, size = 32): Promise<Uint8Array> {
  const classes = (await fs.readdir(CIFAR)).sort();
  const per = size * size * 3;
  const out = new Uint8Array(n * per);
  for (let i = 0; i < n; i++) {
    const dir = path.join(CIFAR, classes[i % classes.length]!);
    const file = (await fs.readdir(dir)).sort()[Math.floor(i / classes.length)]!;
    const px = await sharp(path.join(dir, file))
      .removeAlpha()
      .resize(size, size, { fit: 'fill' })
      .raw()
      .toBuffer();
    out.set(px, i * per);
  }
  return out;
}
