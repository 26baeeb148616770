import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { SHARED } from '../shared-data.js';

export const ROBUST = `${SHARED}/data/robustness`;
export const MNIST = `${SHARED}/data/mnist`;
/** HEIC files made by test/fixtures/heic/make-fixtures.ts, with their generated source picture. */
export const HEIC_FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/heic');

/** A fresh temp folder; also points RANK1_HOME at a fresh temp folder. */
export async function tempDirs(): Promise<{ dir: string; home: string; cleanup: () => Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-data-'));
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-home-'));
  process.env.RANK1_HOME = home;
  return {
    dir,
    home,
    cleanup: async () => {
      await fs.rm(dir, { recursive: true, force: true });
      await fs.rm(home, { recursive: true, force: true });
    },
  };
}

/** A small distinct JPEG (seeded colour + pattern). */
export async function jpeg(seed: number, size = 16): Promise<Buffer> {
  const px = Buffer.alloc(size * size * 3);
  for (let i = 0; i < px.length; i++) px[i] = (seed * 53 + i * ((seed % 7) + 1)) % 256;
  return sharp(px, { raw: { width: size, height: size, channels: 3 } })
    .jpeg({ quality: 95 })
    .toBuffer();
}

export async function writeFile(file: string, data: string | Uint8Array): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, data);
}

export function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / a.length;
}
