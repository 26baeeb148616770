import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type ImportProgress,
  importDataset,
  listDatasets,
  prepareImage,
  removeDataset,
} from '../../src-main/data/index.js';
import { HEIC_FIXTURES, jpeg, meanAbsDiff, MNIST, ROBUST, tempDirs, writeFile } from './helpers.js';

let t: Awaited<ReturnType<typeof tempDirs>>;
beforeEach(async () => {
  t = await tempDirs();
});
afterEach(async () => {
  await t.cleanup();
});

async function makeSet(root: string, perClass: Record<string, number>, firstSeed = 1): Promise<void> {
  let seed = firstSeed;
  for (const [c, n] of Object.entries(perClass))
    for (let i = 0; i < n; i++) await writeFile(path.join(root, c, `img ${i}.jpg`), await jpeg(seed++));
}

describe('importDataset', () => {
  it('imports the robustness folder: every corrupt file is reported, the import completes', async () => {
    const ds = await importDataset(ROBUST, { imageSize: 32 });
    const corrupt = (await fs.readdir(path.join(ROBUST, 'corrupt'), { recursive: true })).filter((f) =>
      /\.\w+$/.test(f),
    );
    for (const f of corrupt) {
      const s = ds.report.skipped.find((k) => k.file === path.join(ROBUST, 'corrupt', f));
      expect(s, f).toBeDefined();
      expect(s!.reason).toMatch(/^(corrupt|truncated|unsupported)$/);
    }
    expect(ds.classes).toEqual(['formats', 'labeled']);
    expect(ds.report.images).toBeGreaterThan(70);
    expect(ds.preprocessing.channels).toBe(3);
  });

  it('caches: nothing decoded on re-import; touching one file decodes only it', async () => {
    const root = path.join(t.dir, 'set');
    await makeSet(root, { cat: 6, dog: 6 });
    const first = await importDataset(root, { imageSize: 16 });
    expect([first.report.decoded, first.report.cached]).toEqual([12, 0]);
    const second = await importDataset(root, { imageSize: 16 });
    expect([second.report.decoded, second.report.cached]).toEqual([0, 12]);
    const later = new Date(Date.now() + 5000);
    await fs.utimes(path.join(root, 'dog', 'img 3.jpg'), later, later);
    const third = await importDataset(root, { imageSize: 16 });
    expect([third.report.decoded, third.report.cached]).toEqual([1, 11]);
    expect(await third.splits.train.read([0, 1])).toEqual(await first.splits.train.read([0, 1]));
    expect((await listDatasets()).map((d) => d.id)).toEqual([first.id]);
    await removeDataset(first.id);
    expect(await listDatasets()).toEqual([]);
  });

  it('detects a damaged cache and rebuilds the damaged records', async () => {
    const root = path.join(t.dir, 'set');
    await makeSet(root, { a: 5, b: 5 });
    const first = await importDataset(root, { imageSize: 16 });
    const all = [...Array(first.splits.train.count).keys()];
    const before = await first.splits.train.read(all);
    const pack = path.join(t.home, 'datasets', first.id, 'pixels.bin');
    const bytes = await fs.readFile(pack);
    bytes[100] ^= 0xff; // flip a byte in record 0
    await fs.writeFile(pack, bytes.subarray(0, bytes.length - 10)); // and cut the last record short
    const again = await importDataset(root, { imageSize: 16 });
    expect(again.report.decoded).toBe(2);
    expect(again.report.warnings.join(' ')).toMatch(/damaged/);
    expect(await again.splits.train.read(all)).toEqual(before);
    await fs.writeFile(path.join(t.home, 'datasets', first.id, 'index.json'), '{"broken');
    const rebuilt = await importDataset(root, { imageSize: 16 });
    expect(rebuilt.report.decoded).toBe(10);
  });

  it('a cancelled import leaves no half-written entry', async () => {
    const root = path.join(t.dir, 'set');
    await makeSet(root, { a: 30, b: 30 });
    const ac = new AbortController();
    const p = importDataset(root, {
      imageSize: 16,
      signal: ac.signal,
      concurrency: 2,
      onProgress: (pr) => pr.phase === 'decode' && ac.abort(),
    });
    await expect(p).rejects.toThrow();
    expect(await listDatasets()).toEqual([]);
    const left = await fs.readdir(path.join(t.home, 'datasets')).catch(() => []);
    expect(left).toEqual([]);
    // After a completed import, a cancelled re-import keeps the old entry intact.
    const ok = await importDataset(root, { imageSize: 16 });
    await fs.writeFile(path.join(root, 'a', 'img 0.jpg'), await jpeg(999));
    await fs.writeFile(path.join(root, 'a', 'img 1.jpg'), await jpeg(998));
    const ac2 = new AbortController();
    ac2.abort();
    await expect(importDataset(root, { imageSize: 16, signal: ac2.signal })).rejects.toThrow();
    const files = await fs.readdir(path.join(t.home, 'datasets', ok.id));
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const after = await importDataset(root, { imageSize: 16 });
    expect([after.report.decoded, after.report.cached]).toEqual([2, 58]);
  });

  it('reports empty, zero-byte, text-as-jpg, duplicates (left out within a class) and small classes', async () => {
    const root = path.join(t.dir, 'set');
    await makeSet(root, { big: 12, small: 1 });
    await fs.mkdir(path.join(root, 'empty'));
    await writeFile(path.join(root, 'big', 'zero.jpg'), '');
    await writeFile(path.join(root, 'big', 'note.jpg'), 'this is text\n');
    await writeFile(path.join(root, 'big', 'readme.txt'), 'hi');
    await fs.copyFile(path.join(root, 'big', 'img 0.jpg'), path.join(root, 'small', 'copy.jpg'));
    await fs.copyFile(path.join(root, 'big', 'img 1.jpg'), path.join(root, 'big', 'again.jpg'));
    const ds = await importDataset(root, { imageSize: 16 });
    const reasons = Object.fromEntries(ds.report.skipped.map((s) => [path.basename(s.file), s.reason]));
    expect(reasons).toEqual({
      'zero.jpg': 'empty',
      'note.jpg': 'not-image',
      'readme.txt': 'not-image',
      'img 1.jpg': 'duplicate', // the same bytes as again.jpg, which comes first in path order
    });
    expect(ds.classes).toEqual(['big', 'small']);
    expect(ds.report.classes).toEqual({ big: 12, small: 2 });
    const cross = ds.report.duplicates.filter((d) => d.crossClass);
    const within = ds.report.duplicates.filter((d) => !d.crossClass);
    expect(cross.map((d) => d.files.map((f) => path.relative(root, f)).sort())).toEqual([
      ['big/img 0.jpg', 'small/copy.jpg'],
    ]);
    expect(within.map((d) => d.files.map((f) => path.relative(root, f)).sort())).toEqual([
      ['big/again.jpg', 'big/img 1.jpg'],
    ]);
    const w = ds.report.warnings.join('\n');
    expect(w).toMatch(/"empty" has no images/);
    expect(w).toMatch(/"small" has only 2 images/);
    expect(w).toMatch(/label conflict/);
  });

  it('respects given splits and carves val from train when none is given', async () => {
    const root = path.join(t.dir, 'set');
    await makeSet(path.join(root, 'train'), { x: 10, y: 10 });
    await makeSet(path.join(root, 'test'), { x: 3, y: 2 }, 100);
    const ds = await importDataset(root, { imageSize: 16, valFraction: 0.2 });
    expect(ds.report.givenSplits).toBe(true);
    expect(ds.report.splits).toEqual({ train: { x: 8, y: 8 }, val: { x: 2, y: 2 }, test: { x: 3, y: 2 } });
    expect(ds.splits.test.files.every((f) => f.includes(`${path.sep}test${path.sep}`))).toBe(true);
  });

  it('stored pixels are byte-identical to prepareImage (grey MNIST, auto channels)', async () => {
    const root = path.join(t.dir, 'mnist');
    for (const c of ['3', '7']) {
      const names = (await fs.readdir(path.join(MNIST, c))).sort().slice(0, 8);
      await fs.mkdir(path.join(root, c), { recursive: true });
      // copies: links leading outside the dataset folder are not followed
      for (const n of names) await fs.copyFile(path.join(MNIST, c, n), path.join(root, c, n));
    }
    const ds = await importDataset(root, { valFraction: 0.25 });
    expect(ds.preprocessing).toMatchObject({ size: 28, channels: 1, fit: 'cover' });
    const set = ds.splits.train;
    const order = [3, 0, 3, set.count - 1];
    const px = await set.read(order);
    const rec = 28 * 28;
    expect(px.length).toBe(order.length * rec);
    for (let k = 0; k < order.length; k++) {
      const p = await prepareImage(set.files[order[k]!]!, ds.preprocessing);
      expect(Buffer.from(px.subarray(k * rec, (k + 1) * rec)).equals(Buffer.from(p.pixels))).toBe(true);
    }
    expect(ds.classes).toEqual(['3', '7']);
    expect([...set.labels].sort()).toEqual([...set.labels].sort()); // labels exist
    expect(new Set(set.labels)).toEqual(new Set([0, 1]));
  });

  it('imports HEIC files (upright and irot-rotated) with the pixels prepareImage gives', async () => {
    const root = path.join(t.dir, 'heic');
    for (const [c, f] of [
      ['phone', 'upright.heic'],
      ['phone', 'rotated.heic'],
      ['scan', 'source.png'],
    ] as const)
      await writeFile(path.join(root, c, f), await fs.readFile(path.join(HEIC_FIXTURES, f)));
    await writeFile(
      path.join(root, 'scan', 'other.png'),
      await fs.readFile(path.join(HEIC_FIXTURES, 'source.png')),
    );
    const ds = await importDataset(root, { imageSize: 32, valFraction: 0 });
    // source.png has the bytes of other.png (first in path order): listed as its duplicate
    expect(ds.report.skipped.map((s) => [path.basename(s.file), s.reason])).toEqual([
      ['source.png', 'duplicate'],
    ]);
    expect(ds.report.classes).toEqual({ phone: 2, scan: 1 });
    const set = ds.splits.train;
    const px = await set.read([...Array(set.count).keys()]);
    const rec = 32 * 32 * 3;
    const source = (await prepareImage(path.join(HEIC_FIXTURES, 'source.png'), ds.preprocessing)).pixels;
    for (let k = 0; k < set.count; k++) {
      const stored = px.subarray(k * rec, (k + 1) * rec);
      const p = await prepareImage(set.files[k]!, ds.preprocessing);
      expect(Buffer.from(stored).equals(Buffer.from(p.pixels)), set.files[k]).toBe(true);
      expect(meanAbsDiff(stored, source), set.files[k]).toBeLessThan(4); // upright, close to the source
    }
  });
});

describe('importDataset run twice at once', () => {
  it('serialises imports of the same dataset: both complete with the same pixels', async () => {
    const root = path.join(t.dir, 'twice');
    await makeSet(root, { cat: 5, dog: 5 });
    const waits: string[] = [];
    const onProgress = (p: ImportProgress) => p.phase === 'wait' && waits.push(p.message!);
    const [a, b] = await Promise.all([
      importDataset(root, { imageSize: 16, onProgress }),
      importDataset(root, { imageSize: 16, onProgress }),
    ]);
    // whichever came second said why it waited
    expect(waits[0]).toMatch(/waiting for another import of this folder/);
    expect(a.id).toBe(b.id);
    expect(a.report.images).toBe(10);
    expect(b.report.images).toBe(10);
    // the second waited for the first, so it found everything in the cache
    expect(Math.min(a.report.decoded, b.report.decoded)).toBe(0);
    const idx = Array.from({ length: a.splits.train.count }, (_, i) => i);
    expect(
      Buffer.from(await b.splits.train.read(idx)).equals(Buffer.from(await a.splits.train.read(idx))),
    ).toBe(true);
  });

  it('takes over a lock left by a process that is gone', async () => {
    const root = path.join(t.dir, 'stale');
    await makeSet(root, { cat: 3, dog: 3 });
    const first = await importDataset(root, { imageSize: 16 });
    const dir = path.join(t.home, 'datasets', first.id);
    await fs.writeFile(path.join(dir, '.lock'), '2147483646'); // no such pid
    const again = await importDataset(root, { imageSize: 16 });
    expect(again.report.images).toBe(6);
    await expect(fs.stat(path.join(dir, '.lock'))).rejects.toThrow();
  });
});
