/**
 * What `rank1 train` tells a person about the folder it was given: the number of images it trains
 * on (not the number of files with an image extension) and how many files it skipped, with where
 * to see them; the import's warnings; and which backbone the model is built on when there is one.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { copyClasses } from '../shared-data.js';
import { REPO, runCli } from './run-cli.js';

const shared = nodePath.resolve(REPO, '../shared/data');
const home = mkdtempSync(nodePath.join(tmpdir(), 'rank1-train-report-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));
const rank1 = (args: string[]) => runCli(args, { home, timeout: 600_000 });
/** `count` images of each class folder of `from`, copied into a new folder `name`. */
function folder(name: string, from: string, classes: string[], count: number): string {
  return copyClasses(from, nodePath.join(home, name), classes, count);
}

describe('rank1 train: the dataset and backbone lines', () => {
  it('counts images, not candidate files, and says how many were skipped', () => {
    const digits = folder('digits', nodePath.join(shared, 'mnist'), ['1', '4'], 12);
    // three files that look like images but are not, and one that is not even named like one
    copyFileSync(
      nodePath.join(shared, 'robustness/corrupt/truncated/premature-end.jpg'),
      nodePath.join(digits, '1', 'premature-end.jpg'),
    );
    copyFileSync(
      nodePath.join(shared, 'robustness/corrupt/invalid/invalid-zlib.png'),
      nodePath.join(digits, '4', 'invalid-zlib.png'),
    );
    writeFileSync(nodePath.join(digits, '4', 'fake.png'), 'not a picture\n');
    writeFileSync(nodePath.join(digits, '4', 'notes.txt'), 'labels checked\n');
    const r = rank1(['train', digits, '--out', nodePath.join(home, 'm1'), '--epochs', '1', '--members', '2']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /^epoch 1: train NLL \d+\.\d{3} \(KL term \d+\.\d{3}\); val acc \d+\.\d%, NLL \d+\.\d{3}, ECE \d\.\d{3}; \d+ img\/s$/m,
    );
    const line = r.stderr.split('\n').find((l) => l.startsWith('dataset:'));
    expect(line).toMatch(/^dataset: 24 images/);
    expect(line).toMatch(/4 files skipped/);
    expect(line).toContain(`rank1 import`);
    // a threshold from a handful of images says how many: here it is their largest score
    expect(r.stdout).toMatch(
      /^OOD flag: [^(]+(\([^)]*\))? \(\w+\): flagged when [\w -]+ [<>] \S+ \(keeps 95% of the [2-4] validation images\)$/m,
    );
  }, 600_000);

  it("repeats the import's warnings, e.g. a class too small to have validation images", () => {
    const skew = folder('skew', nodePath.join(shared, 'mnist'), ['4'], 20);
    copyClasses(nodePath.join(shared, 'mnist'), skew, ['9'], 2);
    const r = rank1(['train', skew, '--out', nodePath.join(home, 'm3'), '--epochs', '1', '--members', '2']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('warning:'))).toEqual([
      'warning: class "9" has only 2 images (fewer than 10)',
      'warning: class "9" has no validation images: validation accuracy, calibration and the OOD threshold do not see it',
    ]);
  }, 600_000);

  it('with no validation images: no NaN, and says the model has no OOD threshold', () => {
    const digits = folder('digits-noval', nodePath.join(shared, 'mnist'), ['1', '4'], 10);
    const model = nodePath.join(home, 'm-noval');
    const r = rank1([
      'train',
      digits,
      '--out',
      model,
      '--epochs',
      '1',
      '--members',
      '2',
      '--val-fraction',
      '0',
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr + r.stdout).not.toMatch(/NaN/);
    // the NLL and the KL term apart, as the app's curves show them (their sum grows while the KL
    // weight anneals in, however well the model learns)
    expect(r.stderr).toMatch(
      /^epoch 1: train NLL \d+\.\d{3} \(KL term \d+\.\d{3}\); no validation images; \d+ img\/s$/m,
    );
    expect(r.stdout).toMatch(/^OOD flag: none\b.*no OOD threshold/m);
    // evaluating on its own folder: nothing was held out, and the line says what to do instead
    const ev = rank1(['eval', model, digits]);
    expect(ev.status).toBe(1);
    expect(ev.stderr).toMatch(/held out no images/);
    expect(ev.stderr).toMatch(/split "all"/);
    // …and with an OOD folder, the flag it does not have is "none", never "undefined"
    const letters = folder('letters', nodePath.join(shared, 'notmnist'), ['A'], 10);
    const all = rank1(['eval', model, digits, '--split', 'all', '--ood', letters]);
    expect(all.status, all.stderr).toBe(0);
    expect(all.stdout).not.toMatch(/undefined|NaN/);
    expect(all.stdout).toMatch(/flag: none/);
  }, 600_000);

  it('names the backbone it trained on', () => {
    const photos = folder('photos', nodePath.join(shared, 'cifar10/train'), ['ship', 'frog'], 10);
    const r = rank1([
      'train',
      photos,
      '--out',
      nodePath.join(home, 'm2'),
      '--epochs',
      '1',
      '--members',
      '2',
      '--backbone',
      'mobilenet-v1-0.25',
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.split('\n')).toContain('backbone: mobilenet-v1-0.25 (frozen)');
  }, 600_000);
});
