/**
 * Which fixed factors should prediction use (issue 17 item 1)? For one trained model, each plan
 * (posterior means; S seeded draws per member) and, for reference, the old per-row sampling: the
 * temperature fitted on the model's validation split, then accuracy, NLL, ECE (calibrated and at
 * T = 1) on its held-out test split, and the flag's and entropy's OOD AUROC against an OOD folder.
 * Usage: npx tsx test/bench/prediction-factors.ts MODEL_DIR DATASET_DIR OOD_DIR
 * (train with --val-fraction and --test-fraction so both splits exist).
 */
import { importDataset } from '../../src-main/data/index.js';
import type { ExampleSet } from '../../src-main/data/types.js';
import { initBackend } from '../../src-main/engine/backends/index.js';
import { calibrationMetrics, fitTemperature } from '../../src-main/engine/calibration.js';
import { assignWeights, statsFromWeights } from '../../src-main/engine/checkpoint.js';
import { evaluateExamples, imagesAtTemperature, summarize } from '../../src-main/engine/evaluate.js';
import { byFiles, concat } from '../../src-main/engine/example-sets.js';
import { pixelSource } from '../../src-main/engine/inputs.js';
import { auroc, thresholdAtTpr } from '../../src-main/engine/metrics.js';
import { buildModel } from '../../src-main/engine/models/index.js';
import {
  drawPredictionFactors,
  type PredictionFactors,
} from '../../src-main/engine/models/prediction-factors.js';
import type { ScoreName } from '../../src-main/engine/ood.js';
import { Rng } from '../../src-main/engine/random.js';
import { readModelFolder } from '../../src-main/store/model-folder.js';

const [modelDir, dataDir, oodDir] = process.argv.slice(2);
if (!modelDir || !dataDir || !oodDir) throw new Error('usage: MODEL_DIR DATASET_DIR OOD_DIR');
await initBackend('wasm');
const { meta, weights } = await readModelFolder(modelDir);
const model = buildModel(meta.config, new Rng(1));
assignWeights(model, weights, modelDir);
const stats = statsFromWeights(weights);
const prep = meta.preprocessing;
const opts = { imageSize: prep.size, fit: prep.fit, channels: prep.channels };
const ds = await importDataset(dataDir, opts);
const all = concat([ds.splits.train, ds.splits.val, ds.splits.test]);
const relabel = (s: ExampleSet): ExampleSet => ({
  ...s,
  labels: Int32Array.from(s.labels, (l) => meta.classes.indexOf(ds.classes[l]!)),
});
const val = relabel(byFiles(all, meta.heldOut!.val));
const test = relabel(byFiles(all, meta.heldOut!.test));
const o = await importDataset(oodDir, { ...opts, valFraction: 0, testFraction: 0 });
const ood = concat([o.splits.train, o.splits.val, o.splits.test]);
const src = (s: ExampleSet) => pixelSource(s, meta.config.inputShape, meta.normalization);
const flag = (meta.ood?.score ?? 'mahalanobis') as ScoreName;

async function measure(name: string, factors: PredictionFactors | undefined, samples: number) {
  const t0 = performance.now();
  const run = (s: ExampleSet, labelled = true) =>
    evaluateExamples(model, src(s), {
      samples,
      rng: new Rng(7),
      stats,
      factors,
      keepLogits: true,
      keepFeatures: true,
      labelled,
    });
  const v = await run(val);
  const T = fitTemperature(v.logits!, val.labels);
  const threshold = thresholdAtTpr(
    imagesAtTemperature(v, val.labels, T, stats).map((r) => r.scores[flag]),
    0.95,
  );
  const t = await run(test);
  const tImgs = imagesAtTemperature(t, test.labels, T, stats);
  const m = summarize(tImgs, meta.classes.length);
  const before = calibrationMetrics(t.logits!, test.labels, 1);
  const oo = await run(ood, false);
  const oImgs = imagesAtTemperature(oo, undefined, T, stats);
  const score = (imgs: typeof tImgs, s: ScoreName) => imgs.map((r) => r.scores[s]);
  console.log(
    JSON.stringify({
      plan: name,
      M: t.logits!.M,
      temperature: +T.toFixed(4),
      accuracy: +m.accuracy.toFixed(4),
      nll: +m.nll.toFixed(4),
      ece: +m.ece.toFixed(4),
      nll_uncalibrated: +before.nll.toFixed(4),
      ece_uncalibrated: +before.ece.toFixed(4),
      [`auroc_flag_${flag}`]: +auroc(score(tImgs, flag), score(oImgs, flag)).toFixed(4),
      auroc_entropy: +auroc(score(tImgs, 'entropy'), score(oImgs, 'entropy')).toFixed(4),
      auroc_mi: +auroc(score(tImgs, 'mutual_information'), score(oImgs, 'mutual_information')).toFixed(4),
      mean_mi_in: +(tImgs.reduce((a, r) => a + r.mutualInformation, 0) / tImgs.length).toFixed(4),
      mean_mi_ood: +(oImgs.reduce((a, r) => a + r.mutualInformation, 0) / oImgs.length).toFixed(4),
      ood_flag_rate: +(oImgs.filter((r) => r.scores[flag] > threshold).length / oImgs.length).toFixed(4),
      seconds: +((performance.now() - t0) / 1000).toFixed(1),
    }),
  );
}

console.log(`model ${modelDir}: ${meta.config.arch} ${meta.config.method} K=${meta.config.members}`);
console.log(`val ${val.count}, test ${test.count}, ood ${ood.count} images`);
const seed = meta.train.seed;
await measure('per-row samples (old), S=1', undefined, 1);
await measure('mean', await drawPredictionFactors(model, { mode: 'mean', samples: 1, seed }), 1);
for (const S of [1, 4])
  await measure(
    `samples S=${S}`,
    await drawPredictionFactors(model, { mode: 'samples', samples: S, seed }),
    S,
  );
model.dispose();
