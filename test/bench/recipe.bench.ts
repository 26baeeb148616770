/**
 * The rank-1 recipe at desktop budgets (issue 16 item 3): one training run on MNIST (a 20 %
 * validation split, which fits the temperature and the flag's threshold, and a 10 % test split,
 * both drawn by the seed), evaluated on the test digits and against notMNIST letters.
 * Prints one JSON row: accuracy, NLL, ECE, Brier (1 and 4 samples), the AUROC of entropy and of
 * the mutual information (MI), and the mean MI in and out.
 *
 *   npx tsx test/bench/recipe.bench.ts --method rank1 --seed 1 [--arch cnn] [--epochs 8]
 *     [--sign -0.1] [--kl-ref 0] [--prior-stddev 0.1] [--factor-lr 1] [--anneal 0.8] [--out rows.jsonl]
 */
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import type { ExampleSet } from '../../src-main/data/types.js';
import { initBackend } from '../../src-main/engine/backends/index.js';
import { parameterCount } from '../../src-main/engine/compare.js';
import { loadModel } from '../../src-main/engine/predict.js';
import { Rng } from '../../src-main/engine/random.js';
import { trainModel } from '../../src-main/engine/train.js';
import type { Architecture, Method, ModelConfig, TrainConfig } from '../../src-main/engine/types.js';
import { SHARED } from '../shared-data.js';

const { values: a } = parseArgs({
  options: {
    method: { type: 'string', default: 'rank1' },
    arch: { type: 'string' },
    seed: { type: 'string', default: '1' },
    epochs: { type: 'string', default: '8' },
    sign: { type: 'string' },
    'kl-ref': { type: 'string' },
    'prior-stddev': { type: 'string' },
    'factor-lr': { type: 'string' },
    anneal: { type: 'string' },
    'member-batches': { type: 'string' },
    objective: { type: 'string' },
    dropout: { type: 'string' },
    members: { type: 'string' },
    tag: { type: 'string', default: '' },
    out: { type: 'string' },
  },
});
const num = (s: string | undefined) => (s === undefined ? undefined : Number(s));

async function loadFolder(root: string, perClass: number): Promise<{ px: Uint8Array[]; labels: number[] }> {
  const px: Uint8Array[] = [];
  const labels: number[] = [];
  for (const [ci, c] of readdirSync(root)
    .filter((d) => !d.includes('.'))
    .sort()
    .entries()) {
    for (const f of readdirSync(path.join(root, c)).sort().slice(0, perClass)) {
      const { data } = await sharp(path.join(root, c, f))
        .greyscale()
        .resize(28, 28, { fit: 'cover' })
        .raw()
        .toBuffer({ resolveWithObject: true });
      px.push(new Uint8Array(data));
      labels.push(ci);
    }
  }
  return { px, labels };
}

function setOf(px: Uint8Array[], labels: number[], idx: ArrayLike<number>): ExampleSet {
  const map = Array.from(idx);
  return {
    count: map.length,
    height: 28,
    width: 28,
    channels: 1,
    labels: Int32Array.from(map, (i) => labels[i]!),
    files: map.map((i) => `img${i}.png`),
    async read(j) {
      const out = new Uint8Array(j.length * 784);
      Array.from(j).forEach((k, n) => out.set(px[map[k]!]!, n * 784));
      return out;
    },
  };
}

await initBackend('wasm');
const seed = Number(a.seed);
const digits = await loadFolder(path.join(SHARED, 'data/mnist'), 10_000);
const letters = await loadFolder(path.join(SHARED, 'data/notmnist'), 100);
const order = new Rng(seed).permutation(digits.px.length);
const nVal = Math.round(0.2 * digits.px.length);
const nTest = Math.round(0.1 * digits.px.length);
const val = setOf(digits.px, digits.labels, order.subarray(0, nVal));
const test = setOf(digits.px, digits.labels, order.subarray(nVal, nVal + nTest));
const train = setOf(digits.px, digits.labels, order.subarray(nVal + nTest));
const ood = setOf(
  letters.px,
  letters.labels.map(() => 0),
  letters.px.map((_, i) => i),
);

const model: Partial<ModelConfig> = {
  method: a.method as Method,
  arch: a.arch as Architecture | undefined,
  randomSignInit: num(a.sign),
  priorStddev: num(a['prior-stddev']),
  members: num(a.members),
};
const config: Partial<TrainConfig> = {
  epochs: Number(a.epochs),
  seed,
  klReferenceSize: num(a['kl-ref']),
  factorLrMultiplier: num(a['factor-lr']),
  klAnnealFraction: num(a.anneal),
  memberBatches: a['member-batches'] as TrainConfig['memberBatches'],
  objective: a.objective as TrainConfig['objective'],
};
const dir = mkdtempSync(path.join(tmpdir(), 'rank1-recipe-'));
const started = performance.now();
try {
  const meta = await trainModel({
    train,
    val,
    classes: Array.from({ length: 10 }, (_, i) => String(i)),
    preprocessing: { size: 28, channels: 1, fit: 'cover', background: { r: 255, g: 255, b: 255 } },
    id: 'recipe',
    outDir: dir,
    model,
    config,
  });
  const trainSeconds = (performance.now() - started) / 1000;
  const loaded = await loadModel(dir);
  const row: Record<string, unknown> = {
    tag: a.tag,
    method: meta.config.method,
    arch: meta.config.arch,
    seed,
    epochs: meta.train.epochs,
    sign: meta.config.randomSignInit,
    priorStddev: meta.config.priorStddev,
    klRef: meta.train.klReferenceSize ?? 0,
    factorLr: meta.train.factorLrMultiplier,
    anneal: meta.train.klAnnealFraction,
    memberBatches: meta.train.memberBatches ?? 'tiled',
    objective: meta.train.objective ?? 'average',
    trainSeconds: Math.round(trainSeconds),
    finalKl: meta.history.at(-1)?.kl,
    trainAcc: meta.history.at(-1)?.trainAccuracy,
    temperature: loaded.temperature,
    parameters: parameterCount(meta.config),
  };
  // rank-1: 1 and 4 samples; the others at their default (MC dropout's 4 masks, else 1).
  for (const samples of meta.config.method === 'rank1' ? [1, 4] : [undefined]) {
    const r = await loaded.evaluate(test, { samples, ood });
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
    const k = `s${samples ?? 1}`;
    Object.assign(row, {
      [`${k}_acc`]: +r.metrics.accuracy.toFixed(4),
      [`${k}_nll`]: +r.metrics.nll.toFixed(4),
      [`${k}_ece`]: +r.metrics.ece.toFixed(4),
      [`${k}_nll_uncal`]: +(r.metrics.nll_uncalibrated ?? NaN).toFixed(4),
      [`${k}_ece_uncal`]: +(r.metrics.ece_uncalibrated ?? NaN).toFixed(4),
      [`${k}_brier`]: +r.metrics.brier.toFixed(4),
      [`${k}_auroc_entropy`]: +r.ood!.auroc_entropy.toFixed(3),
      [`${k}_auroc_mi`]: +r.ood!.auroc_mi.toFixed(3),
      [`${k}_auroc_flag`]: r.ood!.auroc_flag === undefined ? null : +r.ood!.auroc_flag.toFixed(3),
      [`${k}_mi_in`]: +mean(r.items.map((i) => i.mutualInformation)).toFixed(4),
      [`${k}_mi_out`]: +mean(r.oodItems!.map((i) => i.mutualInformation)).toFixed(4),
      [`${k}_mi_max_in`]: +Math.max(...r.items.map((i) => i.mutualInformation)).toFixed(4),
    });
  }
  loaded.dispose();
  const line = JSON.stringify(row);
  console.log(line);
  if (a.out) appendFileSync(a.out, line + '\n');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
