/**
 * `rank1 flag` prints the flag's rule as it reads: every score in words from the one list
 * (common/engine.ts SCORE_WORDS), and max_prob (stored as 1 − max p̄) as "top probability < …",
 * never as "max_prob > 0.667". Needs `npm run build`.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, runCli } from './run-cli.js';

const DEMO = nodePath.join(REPO, 'resources/demo/digits');
let tmp: string;
let model: string;

const rank1 = (...args: string[]) =>
  runCli(args, { cwd: tmp, home: nodePath.join(tmp, 'home'), timeout: 120_000 });

beforeAll(async () => {
  tmp = await fs.mkdtemp(nodePath.join(os.tmpdir(), 'rank1-cli-flag-'));
  // The flag is switched in the model's own folder: a copy, never the shipped demo.
  model = nodePath.join(tmp, 'digits');
  await fs.cp(DEMO, model, { recursive: true });
});
afterAll(() => fs.rm(tmp, { recursive: true, force: true }));

describe('rank1 flag', () => {
  it('prints max_prob as the top probability falling below 1 − threshold, and every score in words', async () => {
    const meta = JSON.parse(await fs.readFile(nodePath.join(model, 'model.json'), 'utf8'));
    const t: number = meta.ood.thresholds.max_prob;
    const r = rank1('flag', model, 'max_prob');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const top = `${((1 - t) * 100).toPrecision(3)}%`;
    expect(r.stdout).toContain(
      `flag: low top probability (max_prob): flagged when top probability < ${top} (keeps 95% of validation images)`,
    );
    expect(r.stdout).not.toMatch(/max_prob >/);
    // One line per fitted score, each in words with its rule.
    expect(r.stdout).toContain(`  max_prob: flagged when top probability < ${top}`);
    expect(r.stdout).toMatch(/^ {2}mahalanobis: flagged when Mahalanobis distance > \d/m);
    expect(r.stdout).toMatch(/^ {2}entropy: flagged when entropy > 0\.\d/m);
    expect(r.stdout).toMatch(/^ {2}mutual_information: flagged when mutual information > 0\.\d/m);
  });
});
