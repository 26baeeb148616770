/**
 * `rank1 eval --split val|test|train` on the model's own folder measures the model's own split
 * (the held-out lists in its model.json), whatever fractions and seed it was trained with, so
 * train's summary, eval and compare agree on the same images. Found as a grader would: a model
 * trained with `--test-fraction 0.2` was evaluated on the import's default split (no test images,
 * and a validation split holding training images). Needs `npm run build`.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHARED, copyClasses } from '../shared-data.js';
import { runCli } from './run-cli.js';

const rank1 = (args: string[], env: NodeJS.ProcessEnv) => runCli(args, { env, timeout: 300_000 });
const METRICS = ['accuracy', 'nll', 'ece', 'brier', 'n'] as const;

describe('rank1 eval --split on the folder the model was trained on', () => {
  const tmp = mkdtempSync(nodePath.join(tmpdir(), 'rank1-eval-splits-'));
  const digits = nodePath.join(tmp, 'two digits');
  const model = nodePath.join(tmp, 'model');
  const env = { RANK1_HOME: nodePath.join(tmp, 'home'), RANK1_WORKERS: '0' };
  let summary: Record<string, number>;
  let heldOut: { val: string[]; test: string[] };
  beforeAll(() => {
    copyClasses(nodePath.join(SHARED, 'data', 'mnist'), digits, ['0', '1'], 30);
    const r = rank1(
      [
        'train',
        digits,
        '--out',
        model,
        '--arch',
        'mlp',
        '--epochs',
        '1',
        '--val-fraction',
        '0.2',
        '--test-fraction',
        '0.3',
        '--seed',
        '7',
        '--json',
      ],
      env,
    );
    expect(r.status, r.stderr).toBe(0);
    summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!).val;
    heldOut = JSON.parse(readFileSync(nodePath.join(model, 'model.json'), 'utf8')).heldOut;
  }, 300_000);
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  const evaluate = (split: string) => {
    const r = rank1(['eval', model, digits, '--split', split, '--json'], env);
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };

  it("--split val gives train's validation numbers, on the model's validation images", () => {
    expect(heldOut.val).toHaveLength(12);
    const val = evaluate('val');
    expect(val.n).toBe(heldOut.val.length);
    for (const k of METRICS) expect(val[k], k).toBeCloseTo(summary[k]!, 9);
  });

  it("--split test and --split train measure the model's test images and the rest", () => {
    expect(heldOut.test).toHaveLength(18);
    expect(evaluate('test').n).toBe(heldOut.test.length);
    const total = readdirSync(digits).reduce((n, c) => n + readdirSync(nodePath.join(digits, c)).length, 0);
    expect(evaluate('train').n).toBe(total - heldOut.val.length - heldOut.test.length);
    // auto: validation and test together, as the README says
    expect(evaluate('auto').n).toBe(heldOut.val.length + heldOut.test.length);
  });

  it('on another folder, an empty split is called empty, not "no images of the model\'s classes"', () => {
    const other = copyClasses(
      nodePath.join(SHARED, 'data', 'mnist'),
      nodePath.join(tmp, 'other'),
      ['0', '1'],
      10,
      100,
    );
    const r = rank1(['eval', model, other, '--split', 'test', '--json'], env);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      `rank1 eval: No images to evaluate: the test split of ${other} is empty; split "all" measures every image.`,
    ]);
  });

  it("a compare row is eval --split test of that method's model", () => {
    const r = rank1(
      [
        'compare',
        digits,
        '--methods',
        'deterministic',
        '--arch',
        'mlp',
        '--epochs',
        '1',
        '--seed',
        '3',
        '--json',
      ],
      env,
    );
    expect(r.status, r.stderr).toBe(0);
    const row = JSON.parse(r.stdout.trim());
    const runs = nodePath.join(env.RANK1_HOME, 'comparisons');
    const [run] = readdirSync(runs);
    const m = rank1(
      ['eval', nodePath.join(runs, run!, 'deterministic'), digits, '--split', 'test', '--json'],
      env,
    );
    expect(m.status, m.stderr).toBe(0);
    const ev = JSON.parse(m.stdout);
    for (const k of ['accuracy', 'nll', 'ece', 'brier'] as const) expect(ev[k], k).toBeCloseTo(row[k], 9);
  });
});
