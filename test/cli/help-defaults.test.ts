/**
 * The CLI's help states each default from its one home (src-main/common/defaults.ts, or
 * COMPARE_TEST_FRACTION in the contract), and that home is what the rooms apply: every number an
 * option's help calls a default, and every default commander is given for the options below, is
 * compared with what the engine resolves and with the constants the data and the service read. A
 * default stated anywhere else in the help, or a new one, fails until it is listed here. The data
 * room's split defaults are checked by behaviour: an import without options splits a small MNIST
 * copy exactly as one given the constants does. The README's synopsis (`[--members 4]`) shows the
 * same numbers as the help.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import * as nodePath from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { registerBench } from '../../src-main/cli/bench.js';
import { registerCompare } from '../../src-main/cli/compare.js';
import { registerEval } from '../../src-main/cli/eval.js';
import { registerExport } from '../../src-main/cli/export.js';
import { registerFlag } from '../../src-main/cli/flag.js';
import { registerImport } from '../../src-main/cli/import.js';
import { registerPredict } from '../../src-main/cli/predict.js';
import { registerServe } from '../../src-main/cli/serve.js';
import { registerTrain } from '../../src-main/cli/train.js';
import {
  COMPARE_TEST_FRACTION,
  DEFAULT_FINE_TUNE_BLOCKS,
  DEFAULT_PREDICT_BATCH,
  DEFAULT_SPLIT_SEED,
  DEFAULT_TEST_FRACTION,
  DEFAULT_VAL_FRACTION,
} from '../../src-main/contract.js';
import { importDataset } from '../../src-main/data/index.js';
import { resolveModelConfig, resolveTrainConfig } from '../../src-main/engine/defaults.js';
import { copyClasses, SHARED } from '../shared-data.js';
import { REPO } from './run-cli.js';

/** The commands as `rank1` registers them (src-main/cli.ts runs itself when imported). */
function program(): Command {
  const p = new Command('rank1');
  for (const register of [
    registerTrain,
    registerEval,
    registerCompare,
    registerPredict,
    registerImport,
    registerFlag,
    registerExport,
    registerBench,
    registerServe,
  ])
    register(p);
  return p;
}

/** What the engine resolves for a folder when nothing is asked for. */
const shape = { size: 28, channels: 1 as const, count: 200, numClasses: 2 };
const model = resolveModelConfig(shape);
const members = model.members;
const trainSeed = resolveTrainConfig(shape, model).seed;

/** `command --option` → the numbers its help calls defaults, in the order it states them. */
const STATED: Record<string, number[]> = {
  'train --members': [members],
  'train --val-fraction': [DEFAULT_VAL_FRACTION],
  'train --test-fraction': [DEFAULT_TEST_FRACTION],
  'train --seed': [trainSeed, DEFAULT_SPLIT_SEED],
  'train --fine-tune': [DEFAULT_FINE_TUNE_BLOCKS],
  'compare --test-fraction': [COMPARE_TEST_FRACTION],
  'compare --members': [members],
  'compare --val-fraction': [DEFAULT_VAL_FRACTION],
  'compare --seed': [DEFAULT_SPLIT_SEED, trainSeed],
  'compare --fine-tune': [DEFAULT_FINE_TUNE_BLOCKS],
  'import --val': [DEFAULT_VAL_FRACTION],
  'import --test': [DEFAULT_TEST_FRACTION],
  'import --seed': [DEFAULT_SPLIT_SEED],
};
/** `command --option` → the value commander fills in when the option is not typed. */
const GIVEN: Record<string, unknown> = {
  'predict --batch': DEFAULT_PREDICT_BATCH,
  'bench --members': members,
};

const stated = (description: string) =>
  [...description.matchAll(/default:? (-?\d+(?:\.\d+)?)/g)].map((m) => Number(m[1]));

describe('defaults in the help', () => {
  const options = program().commands.flatMap((c) =>
    c.options.map((o) => ({ key: `${c.name()} ${o.long}`, o })),
  );

  it('the engine resolves the defaults the table expects', () => {
    // Guards the table itself: a multi-member method and the training seed the help promises.
    expect(model.method).toBe('rank1');
    expect(members).toBeGreaterThan(1);
    expect(Number.isInteger(trainSeed)).toBe(true);
  });

  it('every default a help line states is the one its room applies', () => {
    const found = Object.fromEntries(
      options
        .filter(({ o }) => stated(o.description).length > 0)
        .map(({ key, o }) => [key, stated(o.description)]),
    );
    expect(found).toEqual(STATED);
  });

  it.each(Object.entries(GIVEN))('%s fills in %s', (key, value) => {
    const option = options.find((x) => x.key === key);
    expect(option, key).toBeDefined();
    expect(option!.o.defaultValue).toBe(value);
    // Commander prints it in the help: "(default: 32)".
    expect(
      program()
        .commands.find((c) => c.name() === key.split(' ')[0])!
        .helpInformation(),
    ).toContain(`(default: ${String(value)})`);
  });
});

/** The README's `rank1` synopsis: one entry per command line, its continuation lines joined. */
function readmeSynopsis(): string[] {
  const readme = readFileSync(nodePath.join(REPO, 'README.md'), 'utf8');
  const block = /## The `rank1` command\s+```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  const commands: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('rank1 ')) commands.push(line);
    else if (line.trim() && commands.length > 0) commands[commands.length - 1] += ` ${line.trim()}`;
  }
  return commands;
}

describe("the README's synopsis", () => {
  const commands = program().commands;
  const synopsis = readmeSynopsis();

  it('is found', () => {
    expect(synopsis.length).toBeGreaterThanOrEqual(commands.length);
  });

  it('shows each number as the default the help gives', () => {
    const shown: { key: string; value: number; help: number | undefined }[] = [];
    for (const entry of synopsis) {
      const command = commands.find((c) => c.name() === entry.split(' ')[1]);
      expect(command, entry).toBeDefined();
      for (const [, long, value] of entry.matchAll(/\[(--[\w-]+) (-?\d+(?:\.\d+)?)\]/g)) {
        const o = command!.options.find((x) => x.long === long);
        expect(o, `${command!.name()} ${long}`).toBeDefined();
        const help = stated(o!.description)[0] ?? (o!.defaultValue as number | undefined);
        shown.push({ key: `${command!.name()} ${long}`, value: Number(value), help });
      }
    }
    expect(shown.length).toBeGreaterThan(0);
    expect(shown.filter((s) => s.value !== s.help)).toEqual([]);
  });
});

describe('the data room splits by the same defaults', () => {
  const dir = mkdtempSync(nodePath.join(os.tmpdir(), 'rank1-help-defaults-'));
  process.env.RANK1_HOME = nodePath.join(dir, 'home');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const root = copyClasses(`${SHARED}/data/mnist`, nodePath.join(dir, 'mnist'), ['0', '1'], 30);

  it('an import without options splits as one given the stated defaults', async () => {
    const files = (d: Awaited<ReturnType<typeof importDataset>>) => ({
      train: [...d.splits.train.files],
      val: [...d.splits.val.files],
      test: [...d.splits.test.files],
    });
    const bare = files(await importDataset(root, { imageSize: 16 }));
    const stated = files(
      await importDataset(root, {
        imageSize: 16,
        valFraction: DEFAULT_VAL_FRACTION,
        testFraction: DEFAULT_TEST_FRACTION,
        seed: DEFAULT_SPLIT_SEED,
      }),
    );
    expect(bare).toEqual(stated);
    // 30 a class: round(30 · fraction) of each class held out.
    expect(bare.val).toHaveLength(2 * Math.round(30 * DEFAULT_VAL_FRACTION));
    expect(bare.test).toHaveLength(2 * Math.round(30 * DEFAULT_TEST_FRACTION));
    // Another seed shuffles differently, so the seed comparison above means something.
    const other = files(await importDataset(root, { imageSize: 16, seed: DEFAULT_SPLIT_SEED + 1 }));
    expect(other.val).not.toEqual(bare.val);
  });
});
