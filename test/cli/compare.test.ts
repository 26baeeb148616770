/**
 * `rank1 compare` through the real command line (issue 16 item 5) on a small MNIST subset (4
 * digits × 60, copied to a temporary folder) against a few notMNIST letters: one JSON row per
 * method, measured on the same held-out images; the table; usage errors. Needs `npm run build`.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareColumns } from '../../src-main/contract.js';
import { SHARED } from '../shared-data.js';
import { runCli } from './run-cli.js';

const data = nodePath.join(SHARED, 'data');
const rank1 = (args: string[], env: NodeJS.ProcessEnv) => runCli(args, { env, timeout: 600_000 });

/** The first `n` images of `from` (sorted by name) copied into `to`. */
function copyFirst(from: string, to: string, n: number): void {
  mkdirSync(to, { recursive: true });
  for (const f of readdirSync(from).sort().slice(0, n))
    copyFileSync(nodePath.join(from, f), nodePath.join(to, f));
}

describe('rank1 compare', () => {
  const tmp = mkdtempSync(nodePath.join(tmpdir(), 'rank1-compare-'));
  const digits = nodePath.join(tmp, 'digits');
  const letters = nodePath.join(tmp, 'letters');
  // In-process training: on 240 images the worker threads' start-up costs more than they save.
  const env = { RANK1_HOME: nodePath.join(tmp, 'home'), RANK1_WORKERS: '0' };
  beforeAll(() => {
    for (const c of ['0', '1', '2', '3'])
      copyFirst(nodePath.join(data, 'mnist', c), nodePath.join(digits, c), 60);
    copyFirst(nodePath.join(data, 'notmnist', 'A'), letters, 40);
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it("repeats the import's warnings (a class too small to be measured) on stderr", () => {
    const skewed = nodePath.join(tmp, 'skewed');
    copyFirst(nodePath.join(data, 'mnist', '0'), nodePath.join(skewed, '0'), 20);
    copyFirst(nodePath.join(data, 'mnist', '1'), nodePath.join(skewed, '1'), 2);
    const r = rank1(
      ['compare', skewed, '--methods', 'deterministic', '--arch', 'mlp', '--epochs', '1', '--json'],
      env,
    );
    expect(r.status, r.stderr).toBe(0);
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning: '));
    expect(warnings).toContain('warning: class "1" has only 2 images (fewer than 10)');
    expect(warnings.some((w) => /class "1" has no test images/.test(w))).toBe(true);
  }, 600_000);

  it('prints one JSON row per method, trained on one split and measured on the same held-out images', () => {
    const r = rank1(
      [
        'compare',
        digits,
        '--methods',
        'rank1,deterministic',
        '--arch',
        'mlp',
        '--epochs',
        '2',
        '--seed',
        '7',
        '--ood',
        letters,
        '--json',
      ],
      env,
    );
    expect(r.status, r.stderr).toBe(0);
    const rows = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    console.log('rank1 compare rows:', JSON.stringify(rows));
    expect(rows.map((row) => row.method)).toEqual(['rank1', 'deterministic']);
    for (const row of rows) {
      expect(Object.keys(row)).toEqual([...compareColumns]);
      // 4 balanced classes: chance is 0.25; two epochs of an MLP learn something.
      expect(row.accuracy).toBeGreaterThan(0.3);
      expect(row.accuracy).toBeLessThanOrEqual(1);
      expect(row.nll).toBeGreaterThan(0);
      expect(row.nll).toBeLessThan(Math.log(4) * 2);
      expect(row.ece).toBeGreaterThanOrEqual(0);
      expect(row.ece).toBeLessThanOrEqual(1);
      expect(row.brier).toBeGreaterThanOrEqual(0);
      expect(row.brier).toBeLessThanOrEqual(2);
      for (const k of ['auroc_flag', 'auroc_entropy']) {
        expect(row[k]).toBeGreaterThanOrEqual(0);
        expect(row[k]).toBeLessThanOrEqual(1);
      }
      expect(row.train_seconds).toBeGreaterThan(0);
      expect(row.predict_images_per_s).toBeGreaterThan(0);
    }
    // Rank-1 adds per-member factors to the same network: more parameters, not K times more.
    const [rank1Row, det] = rows;
    expect(rank1Row.parameters).toBeGreaterThan(det.parameters);
    expect(rank1Row.parameters).toBeLessThan(2 * det.parameters);
  });

  it('prints a table without --json, and one model folder per method under the data home', () => {
    const r = rank1(['compare', digits, '--methods', 'deterministic', '--arch', 'mlp', '--epochs', '1'], env);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]!.split(/\s+/)).toEqual([...compareColumns]);
    expect(lines[1]).toMatch(/^deterministic\s+\d+\.\d%/);
    expect(lines[1]).toContain('—'); // no OOD folder: no AUROC
    expect(r.stderr).toMatch(/measured on 48 held-out images \(test split\)/);
    const runs = readdirSync(nodePath.join(env.RANK1_HOME, 'comparisons'));
    expect(runs.length).toBeGreaterThanOrEqual(1);
    const last = runs.sort().at(-1)!;
    expect(readdirSync(nodePath.join(env.RANK1_HOME, 'comparisons', last))).toEqual(['deterministic']);
  });

  it('refuses an unknown method or an out-of-range option with one line and exit code 2', () => {
    const bad = rank1(['compare', digits, '--methods', 'rank1,dropout'], env);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--methods/);
    const range = rank1(['compare', digits, '--methods', 'rank1', '--epochs', '0'], env);
    expect(range.status).toBe(2);
    expect(range.stderr.trim().split('\n')).toHaveLength(1);
    expect(range.stderr).toMatch(/rank1 compare: .*epochs/);
    const twice = rank1(['compare', digits, '--methods', 'rank1,rank1'], env);
    expect(twice.status).toBe(2);
    expect(twice.stderr).toMatch(/each method once/);
  });
});
