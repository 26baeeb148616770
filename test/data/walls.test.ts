import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { importDataset, isInside, scanFolder, thumbnail } from '../../src-main/data/index.js';
import { jpeg, tempDirs, writeFile } from './helpers.js';

let t: Awaited<ReturnType<typeof tempDirs>>;
beforeEach(async () => {
  t = await tempDirs();
});
afterEach(async () => {
  await t.cleanup();
});

/**
 * A granted dataset `set/` (cat, dog) beside an `outside/` folder it must never reach: a file link
 * and a folder link (inside a class and as a class) lead out; one link stays inside.
 */
async function linkedSet(): Promise<{ root: string; outside: string }> {
  const root = path.join(t.dir, 'set');
  const outside = path.join(t.dir, 'outside');
  let seed = 1;
  for (const c of ['cat', 'dog'])
    for (let i = 0; i < 3; i++) await writeFile(path.join(root, c, `${i}.jpg`), await jpeg(seed++));
  await writeFile(path.join(outside, 'secret.jpg'), await jpeg(100));
  for (let i = 0; i < 4; i++) await writeFile(path.join(outside, 'photos', `${i}.jpg`), await jpeg(200 + i));
  await fs.symlink(path.join(outside, 'secret.jpg'), path.join(root, 'cat', 'escape.jpg'));
  await fs.symlink(path.join(outside, 'photos'), path.join(root, 'dog', 'more'));
  await fs.symlink(path.join(outside, 'photos'), path.join(root, 'bird'));
  await fs.symlink(path.join(root, 'cat', '0.jpg'), path.join(root, 'dog', 'inside-link.jpg'));
  return { root, outside };
}

describe('granted folders are a wall', () => {
  it('scan skips file and folder links that resolve outside the root and lists each with the reason', async () => {
    const { root } = await linkedSet();
    const s = await scanFolder(root);
    expect(s.files.map((f) => f.rel)).toEqual([
      'cat/0.jpg',
      'cat/1.jpg',
      'cat/2.jpg',
      'dog/0.jpg',
      'dog/1.jpg',
      'dog/2.jpg',
      'dog/inside-link.jpg',
    ]);
    expect(s.classes).toEqual(['cat', 'dog']);
    const outsideLinks = s.skipped
      .filter((k) => k.reason === 'outside-link')
      .map((k) => path.relative(root, k.file))
      .sort();
    expect(outsideLinks).toEqual(['bird', 'cat/escape.jpg', 'dog/more']);
    for (const k of s.skipped) expect(k.message).toMatch(/outside the dataset folder/);
  });

  it('import never brings in an outside image and lists every outside link in the report', async () => {
    const { root } = await linkedSet();
    const ds = await importDataset(root, { imageSize: 16, valFraction: 0 });
    const all = [...ds.splits.train.files, ...ds.splits.val.files, ...ds.splits.test.files];
    expect(all.every((f) => !path.relative(root, f).startsWith('..'))).toBe(true);
    expect(all.some((f) => f.includes('outside'))).toBe(false);
    expect(ds.classes).toEqual(['cat', 'dog']);
    const listed = ds.report.skipped
      .filter((k) => k.reason === 'outside-link')
      .map((k) => path.basename(k.file));
    expect(listed.sort()).toEqual(['bird', 'escape.jpg', 'more']);
  });

  it('a folder of nothing but links leading out is refused, saying so', async () => {
    const { outside } = await linkedSet();
    const only = path.join(t.dir, 'only-links');
    for (const c of ['a', 'b']) {
      await fs.mkdir(path.join(only, c), { recursive: true });
      await fs.symlink(path.join(outside, 'photos'), path.join(only, c, 'photos'));
    }
    await expect(importDataset(only, { imageSize: 16 })).rejects.toThrow(
      /no images in .*only-links \(2 links leading outside it, not followed\)/,
    );
  });

  it('a dataset reached through a link to its folder is still read (the root is resolved first)', async () => {
    const { root } = await linkedSet();
    const alias = path.join(t.dir, 'alias');
    await fs.symlink(root, alias);
    const s = await scanFolder(alias);
    expect(s.files).toHaveLength(7);
  });

  it('isInside compares resolved real paths', async () => {
    const { root, outside } = await linkedSet();
    expect(isInside(root, path.join(root, 'cat', '0.jpg'))).toBe(true);
    expect(isInside(root, root)).toBe(true);
    expect(isInside(root, path.join(root, 'dog', 'inside-link.jpg'))).toBe(true);
    expect(isInside(root, path.join(root, 'cat', 'escape.jpg'))).toBe(false);
    expect(isInside(root, path.join(root, 'dog', 'more', '0.jpg'))).toBe(false);
    expect(isInside(root, path.join(root, 'cat', '..', '..', 'outside', 'secret.jpg'))).toBe(false);
    expect(isInside(root, path.join(outside, 'secret.jpg'))).toBe(false);
    await fs.mkdir(`${root}-sibling`);
    expect(isInside(root, `${root}-sibling`)).toBe(false); // a shared prefix is not inside
    expect(isInside(root, path.join(root, 'no-such.jpg'))).toBe(false);
  });

  it('thumbnails refuse a file that resolves outside the given root', async () => {
    const { root } = await linkedSet();
    const ok = await thumbnail(path.join(root, 'cat', '0.jpg'), 16, { root });
    expect(ok.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    await expect(thumbnail(path.join(root, 'cat', 'escape.jpg'), 16, { root })).rejects.toThrow(
      /outside the dataset folder/,
    );
    await expect(thumbnail(path.join(root, 'dog', 'more', '0.jpg'), 16, { root })).rejects.toMatchObject({
      reason: 'outside-link',
    });
  });
});
