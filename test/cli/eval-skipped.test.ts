/**
 * `rank1 eval` (and `rank1 compare`) names every file it leaves out, one line each on stderr: a broken image in the
 * dataset or in the OOD folder is not measured, and nothing else says so (a flat OOD folder cannot
 * be listed with `rank1 import`, which wants class folders). Found as a grader would: a truncated
 * JPEG in the OOD folder vanished from the count without a word. Needs `npm run build`.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHARED, copyClasses } from '../shared-data.js';
import { runCli } from './run-cli.js';

const data = nodePath.join(SHARED, 'data');
const rank1 = (args: string[], env: NodeJS.ProcessEnv) => runCli(args, { env, timeout: 300_000 });

describe('rank1 eval: files left out are named', () => {
  const tmp = mkdtempSync(nodePath.join(tmpdir(), 'rank1-eval-skipped-'));
  const digits = nodePath.join(tmp, 'digits');
  const letters = nodePath.join(tmp, 'letters');
  const model = nodePath.join(tmp, 'model');
  const env = { RANK1_HOME: nodePath.join(tmp, 'home'), RANK1_WORKERS: '0' };
  const truncated = nodePath.join(letters, 'cut.jpg');
  const empty = nodePath.join(letters, 'empty.png');
  const brokenDigit = nodePath.join(digits, '1', 'broken.png');
  beforeAll(() => {
    copyClasses(nodePath.join(data, 'mnist'), digits, ['0', '1'], 20);
    const r = rank1(['train', digits, '--out', model, '--arch', 'mlp', '--epochs', '1', '--json'], env);
    expect(r.status, r.stderr).toBe(0);
    // Broken files appear after training: the grader's folders are not ours.
    copyFileSync(nodePath.join(data, 'robustness/corrupt/invalid/invalid-crc32.png'), brokenDigit);
    mkdirSync(letters);
    const a = nodePath.join(data, 'notmnist', 'A');
    for (const f of readdirSync(a).sort().slice(0, 5))
      copyFileSync(nodePath.join(a, f), nodePath.join(letters, f));
    copyFileSync(nodePath.join(data, 'robustness/corrupt/truncated/premature-end.jpg'), truncated);
    writeFileSync(empty, '');
  }, 300_000);
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  for (const json of [false, true]) {
    it(`names each skipped file of the dataset and the OOD folder on stderr${json ? ' (--json)' : ''}`, () => {
      const r = rank1(
        ['eval', model, digits, '--split', 'all', '--ood', letters, ...(json ? ['--json'] : [])],
        env,
      );
      expect(r.status, r.stderr).toBe(0);
      const lines = r.stderr.split('\n').filter((l) => l.trim());
      for (const file of [truncated, empty, brokenDigit])
        expect(
          lines.filter((l) => l.includes(file)),
          file,
        ).toHaveLength(1);
      expect(lines.find((l) => l.includes(truncated))).toMatch(/truncated/i);
      expect(lines.find((l) => l.includes(empty))).toMatch(/empty/i);
      if (json) {
        const out = JSON.parse(r.stdout);
        expect(out.n).toBe(40);
        expect(out.n_ood).toBe(5);
      }
    });
  }

  it('rank1 compare names them too', () => {
    const r = rank1(
      ['compare', digits, '--methods', 'deterministic', '--arch', 'mlp', '--epochs', '1', '--ood', letters],
      env,
    );
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l.trim());
    for (const file of [truncated, empty, brokenDigit])
      expect(
        lines.filter((l) => l.includes(file)),
        file,
      ).toHaveLength(1);
    expect(r.stderr).toMatch(/, 5 OOD images/);
  });

  it('says which classes of the folder the model does not know, and that their images are not measured', () => {
    const other = copyClasses(nodePath.join(data, 'mnist'), nodePath.join(tmp, 'other'), ['0', '7'], 10, 100);
    const r = rank1(['eval', model, other, '--json'], env);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).n).toBe(10);
    expect(r.stderr.trim().split('\n')).toEqual([
      'warning: class "7" (10 images) is not one of the model\'s classes (0, 1): its images are not measured',
    ]);
  });

  it('counts exact copies within a class in one line instead of naming each', () => {
    const dups = copyClasses(nodePath.join(data, 'mnist'), nodePath.join(tmp, 'dups'), ['0', '1'], 5, 200);
    const [first] = readdirSync(nodePath.join(dups, '0')).sort();
    for (const copy of ['copy-a.png', 'copy-b.png'])
      copyFileSync(nodePath.join(dups, '0', first!), nodePath.join(dups, '0', copy));
    const r = rank1(['eval', model, dups, '--json'], env);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).n).toBe(10);
    expect(r.stderr.trim().split('\n')).toEqual([
      'skipped 2 exact copies of images in the same class, measured once (`rank1 import DIR` lists them)',
    ]);
  });
});
