/**
 * `--fine-tune N` through the real command line (issue 16 item 6): bad values are refused with one
 * line and exit code 2 (usage; also when there is no backbone to fine-tune); a small CIFAR-10 copy trains with
 * the last MobileNet block fine-tuned, and eval reads the model back. Needs `npm run build`.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { copyClasses, SHARED } from '../shared-data.js';
import { runCli } from './run-cli.js';

const home = mkdtempSync(nodePath.join(tmpdir(), 'rank1-finetune-cli-'));
const photos = copyClasses(
  nodePath.join(SHARED, 'data/cifar10/train'),
  nodePath.join(home, 'photos'),
  ['airplane', 'frog'],
  15,
);
afterAll(() => rmSync(home, { recursive: true, force: true }));
const rank1 = (args: string[]) => runCli(args, { home, env: { RANK1_WORKERS: '0' }, timeout: 600_000 });

describe('rank1 train/compare --fine-tune', () => {
  it('refuses values outside 0..4, fractions and words with one line naming the option', () => {
    const cases: [string, string[]][] = [
      ['5', ['train', photos, '--out', nodePath.join(home, 'never')]],
      ['1.5', ['train', photos, '--out', nodePath.join(home, 'never')]],
      ['two', ['train', photos, '--out', nodePath.join(home, 'never')]],
      ['-1', ['compare', photos, '--methods', 'rank1']],
    ];
    for (const [value, args] of cases) {
      const r = rank1([...args, '--fine-tune', value]);
      expect(r.status, `${args[0]} --fine-tune ${value}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/--fine-tune.*0\.\.4/);
    }
  });

  it('refuses fine-tuning without a backbone with one line naming the field', () => {
    const r = rank1([
      'train',
      photos,
      '--out',
      nodePath.join(home, 'none'),
      '--backbone',
      'none',
      '--fine-tune',
      '1',
    ]);
    // A request the service refuses as bad is a usage error (exit code 2), as for every option.
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/fineTune.*no backbone/);
  });

  it('trains with the last block fine-tuned and evaluates the saved model', () => {
    const model = nodePath.join(home, 'ft');
    const train = rank1([
      'train',
      photos,
      '--out',
      model,
      '--backbone',
      'mobilenet-v1-0.25',
      '--fine-tune',
      '1',
      '--epochs',
      '1',
      '--members',
      '2',
      '--json',
    ]);
    expect(train.status, train.stderr).toBe(0);
    const meta = JSON.parse(readFileSync(nodePath.join(model, 'model.json'), 'utf8'));
    expect(meta.config.fineTune).toMatchObject({ blocks: 1, cut: 'conv_pw_12_relu' });
    const ev = rank1(['eval', model, photos, '--json']);
    expect(ev.status, ev.stderr).toBe(0);
    expect(JSON.parse(ev.stdout).accuracy).toBeGreaterThanOrEqual(0);
  }, 600_000);
});
