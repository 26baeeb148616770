/**
 * `rank1 compare DATASET_DIR --methods rank1,deterministic,… [--ood DIR] [train options] [--json]`:
 * one `compare.start` call over the direct transport, then one JSON line (or table row) per method.
 */
import * as nodePath from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import {
  COMPARE_TEST_FRACTION,
  METHODS,
  ServiceClient,
  ServiceError,
  compareColumns,
  type CompareProgress,
  type CompareRow,
  type Method,
  type OperationArgs,
  type ServiceEvent,
} from '../contract.js';
import { createService } from '../service/index.js';
import { connectDirect } from '../transports/direct.js';
import { printJson, progressBar } from './common.js';

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

/** Numbers are parsed here; their ranges are the contract's (a value out of range is a usage error). */
const num = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError('must be a number');
  return n;
};

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
      num,
    )
    .option('--arch <arch>', 'mlp | cnn | resnet20 | wrn-28-10 (default: chosen from the data)')
    .option('--members <k>', 'mixture components / ensemble members K', num)
    .option('--posterior <p>', 'gaussian | cauchy')
    .option('--epochs <n>', 'epochs', num)
    .option('--batch <n>', 'unique images per step', num)
    .option('--lr <x>', 'base learning rate', num)
    .option('--optimizer <o>', 'sgd (Nesterov) | adam')
    .option('--image-size <n>', 'input side in pixels (default: from the data)', num)
    .option('--fit <fit>', 'cover | contain')
    .option('--val-fraction <x>', 'validation fraction (default 0.1)', num)
    .option('--seed <n>', 'seed of the split and of every training (default 42)', num)
    .option('--preset <p>', 'quick | balanced | best')
    .option('--backbone <b>', 'mobilenet-v1-0.25 | mobilenet-v2-0.35 | none | PATH[#output]')
    .option('--json', 'one JSON line per method')
    .action((dir: string, o: CompareOptions) => runCompare(dir, o));
}

async function runCompare(dir: string, o: CompareOptions): Promise<void> {
  const service = createService();
  const onSigint = () => service.dispose();
  process.once('SIGINT', onSigint);
  const bar = progressBar(!o.json, '{method} [{bar}] {value}/{total} steps | ETA {eta_formatted}');
  try {
    // The paths named on the command line are the only ones the service may read.
    for (const p of [
      dir,
      o.ood,
      o.backbone && /[\\/]/.test(o.backbone) ? o.backbone.split('#')[0] : undefined,
    ])
      if (p) service.grant(nodePath.resolve(p));
    const client = new ServiceClient(connectDirect(service));
    const args: OperationArgs<'compare.start'> = {
      dataset: nodePath.resolve(dir),
      methods: o.methods,
      ...(o.ood ? { ood: nodePath.resolve(o.ood) } : {}),
      ...(o.testFraction !== undefined ? { testFraction: o.testFraction } : {}),
      ...(o.arch ? { arch: o.arch } : {}),
      ...(o.members !== undefined ? { members: o.members } : {}),
      ...(o.posterior ? { posterior: o.posterior } : {}),
      ...(o.epochs !== undefined ? { epochs: o.epochs } : {}),
      ...(o.batch !== undefined ? { batchSize: o.batch } : {}),
      ...(o.lr !== undefined ? { learningRate: o.lr } : {}),
      ...(o.optimizer ? { optimizer: o.optimizer } : {}),
      ...(o.imageSize !== undefined ? { imageSize: o.imageSize } : {}),
      ...(o.fit ? { fit: o.fit } : {}),
      ...(o.valFraction !== undefined ? { valFraction: o.valFraction } : {}),
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
      ...(o.preset ? { preset: o.preset } : {}),
      ...(o.backbone ? { backbone: o.backbone } : {}),
    };
    let shown = '';
    const onEvent = (e: ServiceEvent) => {
      if (!bar || e.type !== 'job.progress' || !('method' in e.progress)) return;
      const p = e.progress as CompareProgress;
      if (p.method !== shown) {
        if (shown) bar.stop();
        shown = p.method;
        bar.start(p.total, p.done, { method: p.method });
      } else bar.update(p.done, { method: p.method });
    };
    const result = await client.run<'compare'>('compare.start', args, onEvent);
    bar?.stop();
    if (o.json) {
      for (const row of result.rows) printJson(Object.fromEntries(compareColumns.map((c) => [c, row[c]])));
    } else {
      console.error(
        `measured on ${result.n} held-out images (${result.split} split) of ${result.dataset}` +
          (result.n_ood !== null ? `, ${result.n_ood} OOD images` : '') +
          `; models in ${result.folder}`,
      );
      console.log(compareTable(result.rows));
    }
  } catch (e) {
    bar?.stop();
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`rank1 compare: ${msg.replace(/\s*\n\s*/g, ' ')}\n`);
    process.exitCode = e instanceof ServiceError && e.code === 'bad-request' ? 2 : 1;
  } finally {
    process.off('SIGINT', onSigint);
    service.dispose();
  }
}
