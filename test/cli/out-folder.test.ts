/**
 * Issue 13 item 1, through the real command line: `rank1 train data --out X` never deletes what
 * the app did not write. A folder holding the user's files, the dataset itself and its parent are
 * refused before any work with one line naming the folder; exit 1.
 */
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyClasses, SHARED } from '../shared-data.js';
import { runCli } from './run-cli.js';

let tmp: string;
let data: string;

const rank1 = (args: string[]) => runCli(args, { home: nodePath.join(tmp, 'home'), timeout: 120_000 });

/** Every path under `dir` but the app's own data home (the service creates it empty at start). */
async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true }))
    out.push(nodePath.relative(dir, nodePath.join(e.parentPath, e.name)));
  return out.filter((p) => p !== 'home').sort();
}

beforeAll(async () => {
  tmp = await fs.mkdtemp(nodePath.join(tmpdir(), 'rank1-out-cli-'));
  // A tiny dataset (two classes of three MNIST digits) in a "Documents" folder with a thesis beside it.
  data = nodePath.join(tmp, 'Documents', 'digits');
  copyClasses(nodePath.join(SHARED, 'data/mnist'), data, ['0', '1'], 3);
  await fs.writeFile(nodePath.join(tmp, 'Documents', 'thesis.txt'), 'four years of work');
});
afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('rank1 train --out never deletes the user files', () => {
  it.each([
    [
      'a folder holding thesis.txt',
      () => nodePath.join(tmp, 'Documents'),
      /Documents: holds the dataset folder/,
    ],
    ['the dataset itself', () => data, /digits: is the dataset folder/],
    ['a folder inside the dataset', () => nodePath.join(data, '0'), /is inside the dataset folder/],
  ])('refuses %s before any work, in one line', (_what, out, expected) => {
    const before = listing(tmp);
    const r = rank1(['train', data, '--out', out(), '--epochs', '1']);
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(expected);
    return before.then(async (b) => expect(await listing(tmp)).toEqual(b));
  });

  it('refuses a non-empty folder that is not the dataset', async () => {
    const other = nodePath.join(tmp, 'Other');
    await fs.mkdir(other);
    await fs.writeFile(nodePath.join(other, 'notes.txt'), 'mine');
    const r = rank1(['train', data, '--out', other, '--epochs', '1']);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toMatch(
      /^rank1 train: .*Other: already holds notes\.txt; choose a new or empty folder/,
    );
    expect(await fs.readFile(nodePath.join(other, 'notes.txt'), 'utf8')).toBe('mine');
    // Nothing imported either: the check ran before the dataset was read.
    await expect(fs.readdir(nodePath.join(tmp, 'home', 'datasets'))).rejects.toThrow();
  });
});
