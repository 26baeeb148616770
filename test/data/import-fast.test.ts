import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { batchKey, decodeBatch, decodeBuffer } from '../../src-main/data/decode.js';
import { ImageError, importDataset } from '../../src-main/data/index.js';
import { jpeg, tempDirs, writeFile } from './helpers.js';

let t: Awaited<ReturnType<typeof tempDirs>>;
beforeEach(async () => {
  t = await tempDirs();
});
afterEach(async () => {
  await t.cleanup();
});

const prep = {
  size: 16,
  fit: 'cover' as const,
  channels: 3 as const,
  background: { r: 255, g: 255, b: 255 },
};

describe('import fast paths', () => {
  it('decodeBatch gives exactly what decodeBuffer gives, errors included', async () => {
    const colour = await jpeg(3);
    const grey = await sharp(colour).toColourspace('b-w').jpeg().toBuffer();
    const progressive = await sharp(colour).jpeg({ progressive: true }).toBuffer();
    const truncated = (await jpeg(4)).subarray(0, 200);
    expect(batchKey(colour, prep)).toBe(3);
    expect(batchKey(grey, prep)).toBe(1);
    expect(batchKey(await sharp(colour).jpeg().withMetadata({ orientation: 6 }).toBuffer(), prep)).toBeNull();
    expect(batchKey(await sharp(colour).jpeg().withIccProfile('p3').toBuffer(), prep)).toBeNull();
    expect(batchKey(await jpeg(5, 20), prep)).toBeNull();
    for (const p of [prep, { ...prep, channels: 1 as const }]) {
      for (const bufs of [
        [colour, progressive, await jpeg(6)],
        [grey, grey],
        [colour, truncated, progressive],
        // Not one batchKey: a PNG and progressive files (sharp's join) among shortcut-decoded ones.
        [colour, await sharp(colour).png().toBuffer(), progressive, grey, progressive],
      ]) {
        const items = bufs.map((buf, k) => ({ file: `f${k}.jpg`, buf }));
        const got = await decodeBatch(items, p);
        for (const [k, it] of items.entries()) {
          const want = await decodeBuffer(it.file, it.buf, p).catch((e: unknown) => e as ImageError);
          const g = got[k]!;
          if (want instanceof ImageError) expect(g instanceof ImageError && g.reason).toBe(want.reason);
          else if (g instanceof ImageError) expect.fail(`batch failed ${it.file}: ${g.message}`);
          else {
            expect(Buffer.from(g.pixels).equals(Buffer.from(want.pixels))).toBe(true);
            expect(g.grey).toBe(want.grey);
          }
        }
      }
    }
  });

  it('files with identical bytes share one record; re-import leaves the cache untouched', async () => {
    const root = path.join(t.dir, 'set');
    for (let i = 0; i < 6; i++)
      await writeFile(path.join(root, i % 2 ? 'a' : 'b', `x${i}.jpg`), await jpeg(i % 3));
    const first = await importDataset(root, { imageSize: 16, valFraction: 0 });
    expect(first.report.decoded).toBe(6);
    const pack = path.join(t.home, 'datasets', first.id, 'pixels.bin');
    expect((await fs.stat(pack)).size).toBe(3 * 16 * 16 * 3);
    const before = await fs.stat(pack);
    const index = await fs.stat(path.join(t.home, 'datasets', first.id, 'index.json'));
    const again = await importDataset(root, { imageSize: 16, valFraction: 0 });
    expect([again.report.decoded, again.report.cached]).toEqual([0, 6]);
    expect((await fs.stat(pack)).mtimeMs).toBe(before.mtimeMs);
    expect((await fs.stat(path.join(t.home, 'datasets', first.id, 'index.json'))).mtimeMs).toBe(
      index.mtimeMs,
    );
    const all = [...Array(again.splits.train.count).keys()];
    expect(await again.splits.train.read(all)).toEqual(await first.splits.train.read(all));
  });

  it('a record damaged behind the index signature is caught when read', async () => {
    const root = path.join(t.dir, 'set');
    for (let i = 0; i < 4; i++)
      await writeFile(path.join(root, i % 2 ? 'a' : 'b', `x${i}.jpg`), await jpeg(i + 10));
    const first = await importDataset(root, { imageSize: 16, valFraction: 0 });
    const pack = path.join(t.home, 'datasets', first.id, 'pixels.bin');
    const fh = await fs.open(pack, 'r+');
    await fh.write(Buffer.from([0x55, 0xaa]), 0, 2, 5);
    await fh.close();
    // Bit rot behind the index's back: the pack still matches the signature saved with the index,
    // so the open-time check (length only) trusts it.
    const indexFile = path.join(t.home, 'datasets', first.id, 'index.json');
    const idx = JSON.parse(await fs.readFile(indexFile, 'utf8')) as { pack: { mtimeMs: number } };
    idx.pack.mtimeMs = (await fs.stat(pack)).mtimeMs;
    await fs.writeFile(indexFile, JSON.stringify(idx));
    const again = await importDataset(root, { imageSize: 16, valFraction: 0 });
    expect(again.report.decoded).toBe(0);
    const all = [...Array(again.splits.train.count).keys()];
    await expect(again.splits.train.read(all)).rejects.toThrow(/damaged/);
  });
});
