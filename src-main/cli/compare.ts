/**
 * `rank1 compare DATASET_DIR --methods rank1,deterministic,… [--ood DIR] [train options] [--json]`:
 * one `compare.start` call over the direct transport, then one JSON line (or table row) per method.
 */
import * as nodePath from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import {
  COMPARE_TEST_FRACTION,
  DEFAULT_FINE_TUNE_BLOCKS,
  DEFAULT_MEMBERS,
  DEFAULT_SPLIT_SEED,
  DEFAULT_TRAIN_SEED,
  DEFAULT_VAL_FRACTION,
  MAX_FINE_TUNE_BLOCKS,
  METHODS,
  compareColumns,
  type CompareProgress,
  type CompareRow,
  type Method,
  type OperationArgs,
  type ServiceEvent,
  type Settings,
} from '../contract.js';
import {
  backendOption,
  importDisplay,
  intArg,
  integer,
  number,
  printJson,
  printSkipped,
  progressBar,
  runWithService,
} from './common.js';

interface CompareOptions {
  methods: Method[];
  ood?: string;
  testFraction?: number;
  arch?: OperationArgs<'compare.start'>['arch'];
  members?: number;
  posterior?: 'gaussian' | 'cauchy';
  epochs?: number;
  batch?: number;
  lr?: number;
  optimizer?: 'sgd' | 'adam';
  imageSize?: number;
  fit?: 'cover' | 'contain';
  valFraction?: number;
  seed?: number;
  preset?: 'quick' | 'balanced' | 'best';
  backbone?: string;
  randomSignInit?: number;
  calibrate?: boolean;
  fineTune?: number;
  backend: Settings['backend'];
  json?: boolean;
}

function methodList(v: string): Method[] {
  const list = v
    .split(',')
    .map((m) => m.trim())
    .filter(Boolean);
  const bad = list.find((m) => !(METHODS as readonly string[]).includes(m));
  if (bad !== undefined || !list.length)
    throw new InvalidArgumentError(`a comma-separated list of ${METHODS.join(', ')}`);
  return list as Method[];
}

/** The table's cells: rates as percentages, scores to 3–4 digits, counts whole. */
function cell(row: CompareRow, col: (typeof compareColumns)[number]): string {
  const v = row[col];
  if (v === null) return '—';
  if (typeof v === 'string') return v;
  if (col === 'accuracy') return `${(v * 100).toFixed(1)}%`;
  if (col === 'parameters') return v.toLocaleString('en-US');
  if (col === 'train_seconds' || col === 'predict_images_per_s') return v.toFixed(1);
  return v.toFixed(col === 'nll' || col === 'brier' ? 4 : 3);
}

export function compareTable(rows: CompareRow[]): string {
  const table = [
    [...compareColumns],
    ...rows.map((r) => compareColumns.map((c) => cell(r, c))),
  ] as string[][];
  const widths = compareColumns.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  return table
    .map((r) => r.map((c, i) => (i ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  '))
    .join('\n');
}

export function registerCompare(program: Command): void {
  program
    .command('compare')
    .description('train several methods on one split and seed, and measure each on the same held-out images')
    .argument('<dataset_dir>', 'ImageFolder root')
    .requiredOption('--methods <list>', `comma-separated: ${METHODS.join(',')}`, methodList)
    .option('--ood <dir>', 'a folder of out-of-distribution images (AUROC columns)')
    .option(
      '--test-fraction <x>',
      `held-out share the rows are measured on (default ${COMPARE_TEST_FRACTION})`,
      number,
    )
    .option('--arch <arch>', 'mlp | cnn | resnet20 | wrn-28-10 (default: chosen from the data)')
    .option('--members <k>', `mixture components / ensemble members K (default ${DEFAULT_MEMBERS})`, integer)
    .option('--posterior <p>', 'gaussian | cauchy')
    .option('--epochs <n>', 'epochs', integer)
    .option('--batch <n>', 'unique images per step', integer)
    .option('--lr <x>', 'base learning rate', number)
    .option('--optimizer <o>', 'sgd (Nesterov) | adam')
    .option('--image-size <n>', 'input side in pixels (default: from the data)', integer)
    .option('--fit <fit>', 'cover | contain')
    .option('--val-fraction <x>', `validation fraction (default ${DEFAULT_VAL_FRACTION})`, number)
    .option(
      '--seed <n>',
      `seed of the split (default ${DEFAULT_SPLIT_SEED}) and of every training (default ${DEFAULT_TRAIN_SEED})`,
      integer,
    )
    .option('--preset <p>', 'quick | balanced | best')
    .option('--backbone <b>', 'mobilenet-v1-0.25 | mobilenet-v2-0.35 | none | PATH[#output]')
    .option('--random-sign-init <p>', 'P(+1) of the random-sign factor init; ≤ 0 means Normal(1, −p)', number)
    .option('--no-calibrate', 'no temperature scaling fitted on the validation split after training')
    .option(
      '--fine-tune <n>',
      `train the backbone's last N blocks with rank-1 factors (0..${MAX_FINE_TUNE_BLOCKS}; default ${DEFAULT_FINE_TUNE_BLOCKS}: frozen)`,
      intArg(0, MAX_FINE_TUNE_BLOCKS),
    )
    .addOption(backendOption())
    .option('--json', 'one JSON line per method')
    .action((dir: string, o: CompareOptions, cmd: Command) => runCompare(dir, o, cmd));
}

function runCompare(dir: string, o: CompareOptions, cmd: Command): Promise<void> {
  const dataset = nodePath.resolve(dir);
  const ood = o.ood ? nodePath.resolve(o.ood) : undefined;
  const backbonePath =
    o.backbone && /[\\/]/.test(o.backbone) ? o.backbone.replace(/#[^\\/]*$/, '') : undefined;
  // The paths named on the command line are the only ones the service may read.
  const grant = [dataset, ...(ood ? [ood] : []), ...(backbonePath ? [backbonePath] : [])];
  const fieldOptions = { batchSize: '--batch', learningRate: '--lr' };
  return runWithService('compare', { grant, backend: o.backend, fieldOptions }, async (client) => {
    const args: OperationArgs<'compare.start'> = {
      dataset,
      methods: o.methods,
      ood,
      testFraction: o.testFraction,
      arch: o.arch,
      members: o.members,
      posterior: o.posterior,
      epochs: o.epochs,
      batchSize: o.batch,
      learningRate: o.lr,
      optimizer: o.optimizer,
      imageSize: o.imageSize,
      fit: o.fit,
      valFraction: o.valFraction,
      seed: o.seed,
      preset: o.preset,
      backbone: o.backbone,
      randomSignInit: o.randomSignInit,
      fineTune: o.fineTune,
      ...(cmd.getOptionValueSource('calibrate') === 'cli' ? { calibrate: o.calibrate !== false } : {}),
    };
    const bar = progressBar(!o.json, '{method} [{bar}] {value}/{total} steps | ETA {eta_formatted}');
    // The folder's import: its progress, then its warnings (a class too small to be measured…).
    const imported = importDisplay(!o.json);
    let shown = '';
    const onEvent = (e: ServiceEvent) => {
      if (e.type === 'job.progress' && 'decoded' in e.progress) return imported.onImport(e.progress);
      if (!bar || e.type !== 'job.progress' || !('method' in e.progress)) return;
      const p = e.progress as CompareProgress;
      if (p.method !== shown) {
        if (shown) bar.stop();
        shown = p.method;
        bar.start(p.total, p.done, { method: p.method });
      } else bar.update(p.done, { method: p.method });
    };
    let result;
    try {
      result = await client.run<'compare'>('compare.start', args, onEvent);
    } finally {
      imported.stop();
      bar?.stop();
    }
    printSkipped(result.skipped);
    if (o.json) {
      for (const row of result.rows) printJson(Object.fromEntries(compareColumns.map((c) => [c, row[c]])));
      return;
    }
    console.error(
      `measured on ${result.n} held-out images (${result.split} split) of ${result.dataset}` +
        (result.n_ood !== null ? `, ${result.n_ood} OOD images` : '') +
        (result.backend ? ` on ${result.backend.name}` : '') +
        `; models in ${result.folder}`,
    );
    console.log(compareTable(result.rows));
  });
}
