/**
 * A flat OOD folder that holds only files that are not images fails, and the error names them:
 * "no readable images" alone left the user guessing what the app saw there. Needs `npm run build`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHARED, copyClasses } from '../shared-data.js';
import { runCli } from './run-cli.js';

const data = nodePath.join(SHARED, 'data');
const rank1 = (args: string[], env: NodeJS.ProcessEnv) => runCli(args, { env, timeout: 300_000 });

describe('rank1 eval --ood: a folder without one image', () => {
  const tmp = mkdtempSync(nodePath.join(tmpdir(), 'rank1-ood-no-images-'));
  const digits = nodePath.join(tmp, 'digits');
  const notes = nodePath.join(tmp, 'notes');
  const model = nodePath.join(tmp, 'model');
  const env = { RANK1_HOME: nodePath.join(tmp, 'home'), RANK1_WORKERS: '0' };
  const files = ['a.txt', 'b.csv', 'c.json', 'd.md', 'e.txt'].map((f) => nodePath.join(notes, f));
  beforeAll(() => {
    copyClasses(nodePath.join(data, 'mnist'), digits, ['0', '1'], 10);
    const r = rank1(['train', digits, '--out', model, '--arch', 'mlp', '--epochs', '1', '--json'], env);
    expect(r.status, r.stderr).toBe(0);
    mkdirSync(notes);
    for (const f of files) writeFileSync(f, 'not an image');
  }, 300_000);
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('names what it found there in the error: a count and the first few files, with why', () => {
    const r = rank1(['eval', model, digits, '--ood', notes], env);
    expect(r.status).not.toBe(0);
    const error = r.stderr.split('\n').find((l) => l.includes('no readable images'));
    expect(error, r.stderr).toBeDefined();
    expect(error).toContain(notes);
    expect(error).toContain('5 files left out');
    expect(error).toContain(`not-image: ${files[0]} (extension ".txt" is not an image format)`);
    expect(error).toContain(files[2]);
    expect(error).toMatch(/… and 2 more/);
  });
});
