/**
 * Bad input on the command line is one line naming the option, exit code 2, and nothing done:
 * out-of-range values in the contract's words turned to the option typed ("--lr: must be > 0
 * (got -1)", worded once in contract.ts), and an empty value for any option or argument (an empty
 * path would resolve to the current folder) refused before any work. Needs `npm run build`.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHARED } from '../shared-data.js';
import { REPO, runCli } from './run-cli.js';

const DEMO = nodePath.join(REPO, 'resources/demo/digits');
const MNIST = `${SHARED}/data/mnist`;
let cwd: string;

const rank1 = (...args: string[]) =>
  runCli(args, { cwd, home: nodePath.join(cwd, '.home'), timeout: 60_000 });

beforeAll(() => {
  cwd = mkdtempSync(nodePath.join(os.tmpdir(), 'rank1-cli-usage-'));
});
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

/** The command's own lines on stderr (a runtime may add warnings of its own). */
const ours = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('rank1 '));

describe('rank1 usage lines', () => {
  it.each([
    [['--epochs', '0'], 'rank1 train: --epochs: must be ≥ 1 (got 0)'],
    [['--batch', '-1'], 'rank1 train: --batch: must be ≥ 1 (got -1)'],
    [['--lr', '-1'], 'rank1 train: --lr: must be > 0 (got -1)'],
    [['--val-fraction', '2'], 'rank1 train: --val-fraction: must be ≤ 0.5 (got 2)'],
  ])('train %j → %s', (extra, line) => {
    const r = rank1('train', MNIST, '--out', nodePath.join(cwd, 'm'), ...extra);
    expect(r.status).toBe(2);
    expect(ours(r.stderr)).toEqual([line]);
    expect(readdirSync(cwd).filter((f) => f !== '.home')).toEqual([]);
  });

  it.each([
    [['train', MNIST, '--out', ''], '--out'],
    [['train', '', '--out', 'm'], '<dataset_dir>'],
    [['train', MNIST, '--out', 'm', '--backbone', ''], '--backbone'],
    [['export', DEMO, '--out', ''], '--out'],
    [['eval', DEMO, MNIST, '--ood', ''], '--ood'],
    [['eval', '', MNIST], '<model_dir>'],
    [['predict', DEMO, MNIST, ''], '<paths...>'],
    [['flag', ''], '<model_dir>'],
    [['import', ''], '<dir>'],
    [['compare', MNIST, '--methods', 'rank1', '--ood', ''], '--ood'],
    [['serve', '--allow', ''], '--allow'],
  ])('%j refuses the empty value of %s in one line', (args, name) => {
    const r = rank1(...args);
    expect(r.status).toBe(2);
    const lines = ours(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(`^rank1 ${args[0]}: ${name.replace(/[.<>]/g, '\\$&')}: must not be empty`),
    );
    expect(r.stdout).toBe('');
    expect(readdirSync(cwd).filter((f) => f !== '.home')).toEqual([]);
  });

  it('a number option given empty is refused, not read as 0', () => {
    const r = rank1('train', MNIST, '--out', 'm', '--seed', '');
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/--seed.*must be an integer/)]);
    expect(readdirSync(cwd).filter((f) => f !== '.home')).toEqual([]);
  });
});
