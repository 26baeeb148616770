/**
 * The CI check, through the real command line: train on ../shared/data/mnist, then
 * evaluate on its held-out images against ../shared/data/notmnist.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO, runCli } from './run-cli.js';

const shared = nodePath.resolve(REPO, '../shared/data');
/** Distinct images per class folder: the import leaves out exact copies within a class (issue 15). */
const distinctImages = (dir: string) =>
  readdirSync(dir).reduce((n, cls) => {
    const hashes = readdirSync(nodePath.join(dir, cls)).map((f) =>
      createHash('sha256')
        .update(readFileSync(nodePath.join(dir, cls, f)))
        .digest('hex'),
    );
    return n + new Set(hashes).size;
  }, 0);
const rank1 = (args: string[], env: NodeJS.ProcessEnv) => runCli(args, { env, timeout: 900_000 });

describe('rank1 train → eval on MNIST vs notMNIST', () => {
  const home = mkdtempSync(nodePath.join(tmpdir(), 'rank1-ci-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));
  it('reaches ≥ 0.95 held-out accuracy and flags notMNIST (AUROC ≥ 0.9)', () => {
    const model = nodePath.join(home, 'mnist-model');
    const env = { RANK1_HOME: home };
    const train = rank1(
      ['train', nodePath.join(shared, 'mnist'), '--out', model, '--epochs', '8', '--json'],
      env,
    );
    expect(train.status, train.stderr).toBe(0);
    const lines = train.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.filter((l) => 'epoch' in l)).toHaveLength(8);
    const last = lines.at(-1);
    expect(last.model).toBe(model);
    expect(last.backend).toBe('wasm');

    const ev = rank1(
      ['eval', model, nodePath.join(shared, 'mnist'), '--ood', nodePath.join(shared, 'notmnist'), '--json'],
      env,
    );
    expect(ev.status, ev.stderr).toBe(0);
    const r = JSON.parse(ev.stdout);
    console.log(
      'CI MNIST/notMNIST:',
      JSON.stringify({
        accuracy: r.accuracy,
        nll: r.nll,
        ece: r.ece,
        n: r.n,
        split: r.split,
        auroc_entropy: r.auroc_entropy,
        auroc_mi: r.auroc_mi,
        auroc_flag: r.auroc_flag,
        fpr95_flag: r.fpr95_flag,
        in_flag_rate: r.in_flag_rate,
        ood_flag_rate: r.ood_flag_rate,
      }),
    );
    expect(r.split).toBe('held-out validation');
    expect(r.n).toBe(300);
    // calibration visible end to end (issue 16.1): T fitted at training, the numbers before it beside
    expect(r.temperature).toBeGreaterThan(0);
    expect(r.temperature).not.toBe(1);
    expect(r.nll).toBeLessThanOrEqual(r.nll_uncalibrated + 1e-9);
    expect(typeof r.ece_uncalibrated).toBe('number');
    expect(r.reliability_uncalibrated.length).toBe(r.reliability.length);
    expect(r.n_ood).toBe(distinctImages(nodePath.join(shared, 'notmnist')));
    expect(r.accuracy).toBeGreaterThanOrEqual(0.95);
    expect(r.auroc_flag).toBeGreaterThanOrEqual(0.9);
    expect(r.auroc_entropy).toBeGreaterThan(0.5);

    const pred = rank1(
      [
        'predict',
        model,
        nodePath.join(shared, 'mnist/7'),
        nodePath.join(shared, 'robustness/corrupt/invalid'),
        '--json',
      ],
      env,
    );
    expect(pred.status, pred.stderr).toBe(0);
    const rows = pred.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const good = rows.filter((x) => !x.error);
    expect(good.length).toBe(300);
    expect(good.filter((x) => x.label === '7').length / good.length).toBeGreaterThan(0.9);
    expect(rows.some((x) => x.error && x.file.includes('corrupt'))).toBe(true);
    for (const x of good.slice(0, 5)) {
      expect(x.entropy).toBeCloseTo(x.expected_entropy + x.mutual_information, 6);
      expect(Object.keys(x.probabilities)).toHaveLength(10);
    }
  }, 1_200_000);

  it('exits 2 on usage errors and 1 with a one-line reason on failure', () => {
    const usage = rank1(['train'], {});
    expect(usage.status).toBe(2);
    const missing = rank1(['eval', '/nonexistent/model', nodePath.join(shared, 'mnist'), '--json'], {});
    expect(missing.status).toBe(1);
    expect(
      missing.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('rank1 eval:')),
    ).toHaveLength(1);
    expect(missing.stderr).toMatch(/nonexistent\/model/);
  });
});
