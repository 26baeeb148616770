import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { scanFolder } from '../../src-main/data/index.js';
import { jpeg, tempDirs, writeFile } from './helpers.js';

let t: Awaited<ReturnType<typeof tempDirs>>;
beforeEach(async () => {
  t = await tempDirs();
});
afterEach(async () => {
  await t.cleanup();
});

describe('scanFolder', () => {
  it('handles nesting, hidden files, odd names, extensions, non-images and symlink loops', async () => {
    const r = t.dir;
    const img = await jpeg(1);
    await writeFile(path.join(r, 'cat', 'a', 'b', 'c', 'd', 'e', 'deep.JPG'), img);
    await writeFile(path.join(r, 'cat', 'Ünïcode name 猫.jpeg'), img);
    await writeFile(path.join(r, 'cat', '.hidden.jpg'), img);
    await writeFile(path.join(r, 'cat', '.DS_Store'), 'x');
    await writeFile(path.join(r, 'cat', 'Thumbs.db'), 'x');
    await writeFile(path.join(r, '__MACOSX', 'cat', '._x.jpg'), 'x');
    await writeFile(path.join(r, 'dog house', 'notes.txt'), 'x');
    await writeFile(path.join(r, 'dog house', 'pic.PnG'), img);
    await writeFile(path.join(r, 'stray.jpg'), img);
    await fs.mkdir(path.join(r, 'empty'));
    await fs.symlink(path.join(r, 'cat'), path.join(r, 'cat', 'a', 'loop'));
    const s = await scanFolder(r);
    expect(s.givenSplits).toBe(false);
    expect(s.classes).toEqual(['cat', 'dog house']);
    expect(s.emptyClasses).toEqual(['empty']);
    expect(s.files.map((f) => `${f.label}:${f.rel}`)).toEqual([
      'cat:cat/a/b/c/d/e/deep.JPG',
      'cat:cat/Ünïcode name 猫.jpeg',
      'dog house:dog house/pic.PnG',
    ]);
    const reasons = Object.fromEntries(s.skipped.map((k) => [path.relative(r, k.file), k.reason]));
    expect(reasons).toEqual({
      'cat/a/loop': 'symlink-loop',
      'dog house/notes.txt': 'not-image',
      'stray.jpg': 'outside-class-folder',
    });
    expect(s.files[0]!.size).toBe(img.length);
  });

  it('recognises given train/val|validation/test splits', async () => {
    const img = await jpeg(2);
    await writeFile(path.join(t.dir, 'train', 'a', '1.jpg'), img);
    await writeFile(path.join(t.dir, 'validation', 'a', '2.jpg'), img);
    await writeFile(path.join(t.dir, 'test', 'b', '3.jpg'), img);
    const s = await scanFolder(t.dir);
    expect(s.givenSplits).toBe(true);
    expect(s.classes).toEqual(['a', 'b']);
    expect(s.files.map((f) => [f.label, f.split])).toEqual([
      ['b', 'test'],
      ['a', 'train'],
      ['a', 'val'],
    ]);
  });

  it('is cancellable', async () => {
    await writeFile(path.join(t.dir, 'a', '1.jpg'), await jpeg(3));
    const ac = new AbortController();
    ac.abort();
    await expect(scanFolder(t.dir, { signal: ac.signal })).rejects.toThrow();
  });
});
