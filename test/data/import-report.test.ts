import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ImportRefusedError, importDataset, type ImportReport } from '../../src-main/data/index.js';
import { jpeg, ROBUST, tempDirs, writeFile } from './helpers.js';

let t: Awaited<ReturnType<typeof tempDirs>>;
beforeEach(async () => {
  t = await tempDirs();
});
afterEach(async () => {
  await t.cleanup();
});

const rel = (root: string, files: string[]) => files.map((f) => path.relative(root, f)).sort();

/** Every file the scan saw is imported or listed, never both, never neither. */
function expectAccounted(report: ImportReport, imported: string[]): void {
  expect(report.seen).toBe(report.images + report.skipped.length);
  expect(imported).toHaveLength(report.images);
  const listed = new Set(report.skipped.map((s) => s.file));
  for (const f of imported) expect(listed.has(f), f).toBe(false);
}

const importedFiles = (ds: Awaited<ReturnType<typeof importDataset>>) => [
  ...ds.splits.train.files,
  ...ds.splits.val.files,
  ...ds.splits.test.files,
];

describe('import tells everything', () => {
  it('lists truncated and corrupt files, duplicates, stray files and outside links; counts add up', async () => {
    const root = path.join(t.dir, 'set');
    let seed = 1;
    for (const c of ['cat', 'dog'])
      for (let i = 0; i < 4; i++) await writeFile(path.join(root, c, `${i}.jpg`), await jpeg(seed++));
    // real broken files from the shared robustness set
    for (const f of [
      'truncated/premature-end.jpg',
      'truncated/video-001.progressive.truncated.jpeg',
      'invalid/invalid-crc32.png',
    ])
      await writeFile(
        path.join(root, 'cat', path.basename(f)),
        await fs.readFile(path.join(ROBUST, 'corrupt', f)),
      );
    await fs.copyFile(path.join(root, 'cat', '1.jpg'), path.join(root, 'cat', 'copy of 1.jpg')); // within a class
    await fs.copyFile(path.join(root, 'cat', '2.jpg'), path.join(root, 'dog', 'cat-2.jpg')); // across classes
    await writeFile(path.join(root, 'stray.jpg'), await jpeg(99)); // at the root: no class
    await writeFile(path.join(root, 'dog', 'notes.txt'), 'hello');
    await writeFile(path.join(t.dir, 'outside.jpg'), await jpeg(77));
    await fs.symlink(path.join(t.dir, 'outside.jpg'), path.join(root, 'dog', 'link.jpg'));

    const ds = await importDataset(root, { imageSize: 16 });
    const r = ds.report;
    const reasons = Object.fromEntries(r.skipped.map((s) => [path.relative(root, s.file), s.reason]));
    expect(reasons['cat/premature-end.jpg']).toMatch(/^(truncated|corrupt)$/);
    expect(reasons['cat/video-001.progressive.truncated.jpeg']).toMatch(/^(truncated|corrupt)$/);
    expect(reasons['cat/invalid-crc32.png']).toMatch(/^(truncated|corrupt)$/);
    expect(reasons['stray.jpg']).toBe('outside-class-folder');
    expect(reasons['dog/notes.txt']).toBe('not-image');
    expect(reasons['dog/link.jpg']).toBe('outside-link');
    // the second copy within one class is listed as a duplicate of the first, not imported
    expect(reasons['cat/copy of 1.jpg']).toBe('duplicate');
    const dup = r.skipped.find((s) => s.reason === 'duplicate')!;
    expect(path.relative(root, dup.duplicateOf!)).toBe('cat/1.jpg');
    expect(dup.message).toMatch(/same bytes as .*1\.jpg/);
    expect(Object.keys(reasons)).toHaveLength(7);
    // the copy across classes is kept in both (a label conflict, reported as today)
    expect(r.duplicates.filter((d) => d.crossClass).map((d) => rel(root, d.files))).toEqual([
      ['cat/2.jpg', 'dog/cat-2.jpg'],
    ]);
    expect(r.duplicates.filter((d) => !d.crossClass).map((d) => rel(root, d.files))).toEqual([
      ['cat/1.jpg', 'cat/copy of 1.jpg'],
    ]);
    expect(r.classes).toEqual({ cat: 4, dog: 5 });
    expect(r.seen).toBe(16);
    expectAccounted(r, importedFiles(ds));
  });

  it('class folders named like object internals (__proto__, constructor) are counted in every split like any other', async () => {
    const root = path.join(t.dir, 'odd-names');
    let seed = 1;
    for (const c of ['__proto__', 'constructor', 'toString'])
      for (let i = 0; i < 10; i++) await writeFile(path.join(root, c, `${i}.jpg`), await jpeg(seed++));
    const ds = await importDataset(root, { imageSize: 16, valFraction: 0.2 });
    for (const c of ['__proto__', 'constructor', 'toString']) {
      expect(Object.hasOwn(ds.report.classes, c), c).toBe(true);
      expect(ds.report.classes[c]).toBe(10);
      for (const s of ['train', 'val', 'test'] as const)
        expect(Object.hasOwn(ds.report.splits[s], c), `${s} ${c}`).toBe(true);
      expect(ds.report.splits.train[c]! + ds.report.splits.val[c]! + ds.report.splits.test[c]!).toBe(10);
    }
  });

  it('warns when a class gets no validation or test images while the split has some', async () => {
    const root = path.join(t.dir, 'skewed');
    let seed = 1;
    for (let i = 0; i < 20; i++) await writeFile(path.join(root, 'many', `${i}.jpg`), await jpeg(seed++));
    for (let i = 0; i < 2; i++) await writeFile(path.join(root, 'few', `${i}.jpg`), await jpeg(seed++));
    const ds = await importDataset(root, { imageSize: 16, valFraction: 0.1, testFraction: 0.1 });
    const r = ds.report;
    expect(r.splits.val.few).toBe(0);
    expect(r.splits.test.few).toBe(0);
    expect(r.warnings).toContain(
      'class "few" has no validation images: validation accuracy, calibration and the OOD threshold do not see it',
    );
    expect(r.warnings).toContain('class "few" has no test images: test metrics do not see it');
    // no split asked for, no warning about it
    const none = await importDataset(root, { imageSize: 16, valFraction: 0, testFraction: 0 });
    expect(none.report.warnings.filter((w) => /no (validation|test) images/.test(w))).toEqual([]);
  });

  it('warns when a class of a train/val/test layout has no training images', async () => {
    // Tiny-ImageNet's own layout: val/images/*.JPEG (labels in a text file) reads as a class "images"
    const root = path.join(t.dir, 'tiny');
    let seed = 1;
    for (const c of ['n01', 'n02'])
      for (let i = 0; i < 12; i++)
        await writeFile(path.join(root, 'train', c, 'images', `${c}_${i}.JPEG`), await jpeg(seed++));
    for (let i = 0; i < 4; i++)
      await writeFile(path.join(root, 'val', 'images', `val_${i}.JPEG`), await jpeg(seed++));
    const ds = await importDataset(root, { imageSize: 16 });
    expect(ds.report.splits.train.images).toBe(0);
    expect(ds.report.warnings).toContain('class "images" has no training images: the model cannot learn it');
  });

  it('the whole robustness folder adds up', async () => {
    const ds = await importDataset(ROBUST, { imageSize: 16 });
    expectAccounted(ds.report, importedFiles(ds));
    const truncated = ds.report.skipped.filter((s) => s.file.includes(`${path.sep}truncated${path.sep}`));
    expect(truncated.length).toBeGreaterThanOrEqual(2);
  });

  it('refuses a folder with no images before importing anything, with one plain line', async () => {
    const root = path.join(t.dir, 'empty');
    await writeFile(path.join(root, 'readme.txt'), 'no pictures here');
    await fs.mkdir(path.join(root, 'cat'));
    const err = await importDataset(root, { imageSize: 16 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImportRefusedError);
    expect((err as ImportRefusedError).code).toBe('no-images');
    expect((err as Error).message).toMatch(/no images in .*empty \(1 other file\)/);
    expect((err as Error).message).not.toMatch(/\n/);
    expect(await fs.readdir(path.join(t.home, 'datasets')).catch(() => [])).toEqual([]);
  });

  it('refuses a folder with only one class before importing anything', async () => {
    const root = path.join(t.dir, 'one');
    for (let i = 0; i < 3; i++) await writeFile(path.join(root, 'cat', `${i}.jpg`), await jpeg(i + 1));
    const err = await importDataset(root, { imageSize: 16 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImportRefusedError);
    expect((err as ImportRefusedError).code).toBe('one-class');
    expect((err as Error).message).toMatch(/only one class \("cat"\).*at least two/);
    expect(await fs.readdir(path.join(t.home, 'datasets')).catch(() => [])).toEqual([]);
    // Evaluation and OOD folders may hold one class: the caller says so.
    const ds = await importDataset(root, { imageSize: 16, minClasses: 1 });
    expect(ds.classes).toEqual(['cat']);
  });

  it('refuses a folder whose images are all unreadable, naming what was wrong', async () => {
    const root = path.join(t.dir, 'broken');
    for (const c of ['a', 'b']) {
      await writeFile(path.join(root, c, 'zero.jpg'), '');
      await writeFile(path.join(root, c, 'text.jpg'), `not a picture ${c}\n`);
      await writeFile(path.join(root, c, 'notes.txt'), 'not counted as an image file');
    }
    const err = await importDataset(root, { imageSize: 16 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImportRefusedError);
    expect((err as ImportRefusedError).code).toBe('no-readable-images');
    expect((err as Error).message).toMatch(/none of the 4 image files could be read/);
    expect((err as ImportRefusedError).report?.skipped).toHaveLength(6);
    expect(await importDataset(path.join(t.dir, 'missing')).catch((e: Error) => e.message)).toMatch(
      /cannot read folder .*missing/,
    );
  });
});
