/**
 * Through the real command line (issue 16.1, issue 13 item 3): `--no-calibrate` leaves the model at
 * T = 1, and a model trained without validation images has no OOD threshold, which `rank1 predict`
 * says once on stderr and on every --json row.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { copyClasses } from '../shared-data.js';
import { REPO, runCli } from './run-cli.js';

const shared = nodePath.resolve(REPO, '../shared/data/mnist');
const home = mkdtempSync(nodePath.join(tmpdir(), 'rank1-calwarn-'));
// A small copy (3 digits × 20 images) keeps the two trainings quick.
const mnist = copyClasses(shared, nodePath.join(home, 'digits'), ['1', '4', '7'], 20);
afterAll(() => rmSync(home, { recursive: true, force: true }));
const rank1 = (args: string[]) => runCli(args, { home, timeout: 600_000 });
const small = ['--epochs', '1', '--image-size', '16', '--members', '2'];

describe('rank1 train/eval/predict: calibration and the no-threshold warning', () => {
  it('--no-calibrate: eval --json reports T = 1 and equal numbers before and after', () => {
    const model = nodePath.join(home, 'nocal');
    const train = rank1(['train', mnist, '--out', model, ...small, '--no-calibrate', '--json']);
    expect(train.status, train.stderr).toBe(0);
    const ev = rank1(['eval', model, mnist, '--json']);
    expect(ev.status, ev.stderr).toBe(0);
    const r = JSON.parse(ev.stdout);
    expect(r.temperature).toBe(1);
    expect(r.nll).toBeCloseTo(r.nll_uncalibrated, 6);
    expect(r.ece).toBeCloseTo(r.ece_uncalibrated, 6);
  }, 600_000);

  it('no validation split: no OOD threshold, predict warns once on stderr and on every --json row', () => {
    const model = nodePath.join(home, 'noval');
    const train = rank1(['train', mnist, '--out', model, ...small, '--val-fraction', '0', '--json']);
    expect(train.status, train.stderr).toBe(0);
    const pred = rank1(['predict', model, nodePath.join(mnist, '7'), '--json']);
    expect(pred.status, pred.stderr).toBe(0);
    const warnings = pred.stderr.split('\n').filter((l) => l.includes('warning'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^rank1 predict: warning: .*no OOD threshold/);
    const rows = pred.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((x) => !x.error);
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.length).toBeLessThanOrEqual(20);
    for (const x of rows) {
      expect(x.warning).toMatch(/no OOD threshold/);
      expect(x.ood).toBe(false);
    }
  }, 600_000);
});
