/**
 * `rank1 predict`'s exit code says whether anything was predicted: a folder with a few broken
 * files still exits 0 (each bad file gets its error line), but when nothing given could be
 * predicted (a missing file, a single broken image, an empty folder) the command fails: exit 1
 * with one stderr line naming what was given.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, runCli } from './run-cli.js';

const demo = join(REPO, 'resources/demo/digits');
const mnist3 = resolve(REPO, '../shared/data/mnist/3');
const digit = join(mnist3, readdirSync(mnist3).sort()[0]!);
const corrupt = resolve(REPO, '../shared/data/robustness/corrupt/invalid/invalid-zlib.png');
const tmp = mkdtempSync(join(tmpdir(), 'rank1-predict-exit-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const predict = (...paths: string[]) =>
  runCli(['predict', demo, ...paths, '--json'], { home: tmp, timeout: 120_000 });
const stderrLines = (s: string) => s.split('\n').filter((l) => l.startsWith('rank1 predict:'));

describe('rank1 predict exit codes', () => {
  it('a missing file: exit 1, its error row, one stderr line naming it', () => {
    const missing = join(tmp, 'no such photo.png');
    const r = predict(missing);
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout.trim()).error).toBeTruthy();
    const lines = stderrLines(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('no such photo.png');
  });

  it('a single broken image: exit 1', () => {
    const r = predict(corrupt);
    expect(r.status).toBe(1);
    expect(stderrLines(r.stderr)[0]).toContain('invalid-zlib.png');
  });

  it('an empty folder: exit 1, naming the folder', () => {
    const empty = join(tmp, 'empty folder');
    mkdirSync(empty);
    const r = predict(empty);
    expect(r.status).toBe(1);
    expect(stderrLines(r.stderr)).toHaveLength(1);
    expect(stderrLines(r.stderr)[0]).toContain('empty folder');
  });

  it('a good image beside a broken one: exit 0, one row each', () => {
    const r = predict(digit, corrupt);
    expect(r.status, r.stderr).toBe(0);
    const rows = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows).toHaveLength(2);
    expect(rows.filter((x) => x.error)).toHaveLength(1);
  });
});
