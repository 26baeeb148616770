/**
 * Import benchmarks (run: `npx tsx test/bench/import.bench.ts [cifar|warm|large|large-unique|100k]...`).
 * Prints one JSON line per measurement: wall-clock images/s, the process's CPU time per image
 * (all threads; a load-independent figure on a shared machine) and the load average around it.
 * Uses a fresh RANK1_HOME in the temp folder.
 */
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { importDataset } from '../../src-main/data/index.js';
import { SHARED } from '../shared-data.js';

const DATA = `${SHARED}/data`;
const which = new Set(
  process.argv.slice(2).length ? process.argv.slice(2) : ['cifar', 'warm', 'large', 'large-unique', '100k'],
);
const home = await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-bench-home-'));
process.env.RANK1_HOME = home;
const line = (o: object) =>
  console.log(JSON.stringify({ ...o, maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024) }));
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
/** Run `fn`, returning its result plus CPU ms per image (n images) and the load average before/after. */
async function measured<T>(
  n: number,
  fn: () => Promise<T>,
): Promise<T & { cpuMsPerImage: number; load: string }> {
  const before = loadavg();
  const c0 = process.cpuUsage();
  const r = await fn();
  const c = process.cpuUsage(c0);
  return Object.assign(r as object, {
    cpuMsPerImage: +((c.user + c.system) / 1000 / n).toFixed(4),
    load: `${before} → ${loadavg()}`,
  }) as T & { cpuMsPerImage: number; load: string };
}
const cpu = (r: { cpuMsPerImage: number; load: string }) => ({
  cpuMsPerImage: r.cpuMsPerImage,
  load: r.load,
});

try {
  if (which.has('cifar') || which.has('warm')) {
    const root = path.join(DATA, 'cifar10/train');
    const cold = await measured(10_000, () => importDataset(root));
    line({
      bench: 'cifar10 cold import',
      images: cold.report.images,
      decoded: cold.report.decoded,
      seconds: +cold.report.seconds.toFixed(3),
      imagesPerSecond: Math.round(cold.report.imagesPerSecond),
      ...cpu(cold),
    });
    for (let k = 0; k < 3; k++) {
      const warm = await measured(10_000, () => importDataset(root));
      line({
        bench: 'cifar10 warm re-import',
        images: warm.report.images,
        decoded: warm.report.decoded,
        seconds: +warm.report.seconds.toFixed(3),
        imagesPerSecond: Math.round(warm.report.imagesPerSecond),
        ...cpu(warm),
      });
    }
  }
  if (which.has('large')) {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-bench-large-'));
    const src = path.join(DATA, 'robustness/formats/jpeg_large/issue70.jpg');
    for (const c of ['a', 'b']) await fs.mkdir(path.join(dir, c));
    // One copy inside the folder, linked to 200 times (links leading outside the folder are not followed).
    const copy = path.join(dir, 'a', 'source.jpg');
    await fs.copyFile(src, copy);
    for (let i = 0; i < 200; i++) await fs.symlink(copy, path.join(dir, i % 2 ? 'a' : 'b', `photo-${i}.jpg`));
    const r = await measured(200, () => importDataset(dir, { imageSize: 64 }));
    line({
      bench: 'jpeg_large 3120x4208 x200 import',
      images: r.report.images,
      seconds: +r.report.seconds.toFixed(3),
      imagesPerSecond: Math.round(r.report.imagesPerSecond),
      ...cpu(r),
    });
    await fs.rm(dir, { recursive: true, force: true });
  }
  if (which.has('large-unique')) {
    // The same photo with distinct trailing bytes after its end-of-image marker: same pixels, but
    // distinct contents, so every copy is really decoded (no sharing of identical files).
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-bench-large-unique-'));
    const bytes = await fs.readFile(path.join(DATA, 'robustness/formats/jpeg_large/issue70.jpg'));
    const N = 40;
    for (const c of ['a', 'b']) await fs.mkdir(path.join(dir, c));
    for (let i = 0; i < N; i++)
      await fs.writeFile(
        path.join(dir, i % 2 ? 'a' : 'b', `photo-${i}.jpg`),
        Buffer.concat([bytes, Buffer.from(`#${i}`)]),
      );
    const r = await measured(N, () => importDataset(dir, { imageSize: 64 }));
    line({
      bench: `jpeg_large 3120x4208 x${N} distinct-bytes import`,
      images: r.report.images,
      decoded: r.report.decoded,
      seconds: +r.report.seconds.toFixed(3),
      imagesPerSecond: Math.round(r.report.imagesPerSecond),
      ...cpu(r),
    });
    await fs.rm(dir, { recursive: true, force: true });
  }
  if (which.has('100k')) {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-bench-100k-'));
    const N = 100_000;
    const jpegs = await Promise.all(
      Array.from({ length: 16 }, (_, k) =>
        sharp({
          create: {
            width: 32,
            height: 32,
            channels: 3,
            background: { r: (k * 37) % 256, g: (k * 91) % 256, b: (k * 53) % 256 },
          },
        })
          .jpeg({ quality: 90 })
          .toBuffer(),
      ),
    );
    for (let c = 0; c < 10; c++) await fs.mkdir(path.join(dir, `class${c}`));
    for (let i = 0; i < N; i += 1000) {
      await Promise.all(
        Array.from({ length: 1000 }, (_, j) =>
          fs.writeFile(path.join(dir, `class${(i + j) % 10}`, `img-${i + j}.jpg`), jpegs[(i + j) % 16]!),
        ),
      );
    }
    const r = await measured(N, () => importDataset(dir, { imageSize: 32 }));
    line({
      bench: '100k generated 32x32 JPEG import',
      images: r.report.images,
      seconds: +r.report.seconds.toFixed(3),
      imagesPerSecond: Math.round(r.report.imagesPerSecond),
      peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
      ...cpu(r),
    });
    await fs.rm(dir, { recursive: true, force: true });
  }
} finally {
  await fs.rm(home, { recursive: true, force: true });
}
