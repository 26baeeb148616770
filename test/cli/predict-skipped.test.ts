/**
 * `rank1 predict DIR` names the files of the folder it does not read because they are not
 * images (as `rank1 import` lists them): one stderr line each, `skipped not-image: FILE (why)`,
 * and with --json one row each, `{ file, skipped: 'not-image', error }` (an `error` like a
 * refused link's row, so a reader keeping rows with a label misses nothing and counts nothing twice).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, runCli } from './run-cli.js';

const demo = join(REPO, 'resources/demo/digits');
const mnist3 = resolve(REPO, '../shared/data/mnist/3');
const tmp = mkdtempSync(join(tmpdir(), 'rank1-predict-skipped-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// One digit beside a text file and a file without extension, one of them in a sub-folder.
const folder = join(tmp, 'photos');
mkdirSync(join(folder, 'more'), { recursive: true });
copyFileSync(join(mnist3, readdirSync(mnist3).sort()[0]!), join(folder, 'digit.png'));
writeFileSync(join(folder, 'notes.txt'), 'not an image');
writeFileSync(join(folder, 'more', 'README'), 'not an image either');
const notes = join(folder, 'notes.txt');
const readme = join(folder, 'more', 'README');

const predict = (...args: string[]) =>
  runCli(['predict', demo, folder, ...args], { home: join(tmp, 'home'), timeout: 120_000 });
const skippedLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('skipped '));

describe('rank1 predict on a folder: files that are not images', () => {
  it('names each on stderr, in the words rank1 import and eval use', () => {
    const r = predict();
    expect(r.status, r.stderr).toBe(0);
    expect(skippedLines(r.stderr).sort()).toEqual(
      [
        `skipped not-image: ${readme} (extension "(none)" is not an image format)`,
        `skipped not-image: ${notes} (extension ".txt" is not an image format)`,
      ].sort(),
    );
    expect(r.stdout.trim().split('\n')).toHaveLength(1); // the digit's prediction
  });

  it('--json: one skipped row each beside the prediction, and the same stderr lines', () => {
    const r = predict('--json');
    expect(r.status, r.stderr).toBe(0);
    const rows = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows.filter((x) => x.label)).toHaveLength(1);
    const skipped = rows.filter((x) => x.skipped);
    expect(skipped.map((x) => x.file).sort()).toEqual([notes, readme].sort());
    expect(skipped.find((x) => x.file === notes)).toEqual({
      file: notes,
      skipped: 'not-image',
      error: 'extension ".txt" is not an image format',
    });
    expect(skippedLines(r.stderr)).toHaveLength(2);
  });

  it('a folder of files that are not images: exit 1, each named, then why nothing was predicted', () => {
    const texts = join(tmp, 'texts');
    mkdirSync(texts);
    writeFileSync(join(texts, 'a.txt'), 'a');
    const r = runCli(['predict', demo, texts], { home: join(tmp, 'home'), timeout: 120_000 });
    expect(r.status).toBe(1);
    expect(skippedLines(r.stderr)).toEqual([
      `skipped not-image: ${join(texts, 'a.txt')} (extension ".txt" is not an image format)`,
    ]);
    expect(r.stderr).toMatch(/rank1 predict: no images found in .*texts/);
  });
});
