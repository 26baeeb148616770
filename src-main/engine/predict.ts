/**
 * A loaded model: prediction per image (label, probabilities, entropy split, OOD scores and
 * flag) and evaluation over a dataset, optionally against an OOD set.
 */
import type { ExampleSet } from '../data/types.js';
import { readModelFolder, type ModelMeta } from './model-format.js';
import { currentBackend, initBackend } from './backends/index.js';
import { assertWeightsCanHold, assignWeights, statsFromWeights } from './checkpoint.js';
import { evaluateExamples, summarize, type EvaluatedImage, type MemberRunner } from './evaluate.js';
import { resolveWorkers, runMembersParallel, WorkerPool } from './parallel/index.js';
import { pixelsToTensor, runMembers, withTemperature } from './inference.js';
import { calibrationMetrics } from './calibration.js';
import {
  drawPredictionFactors,
  factorsFromWeights,
  resolvePlan,
  type PredictionFactors,
} from './models/prediction-factors.js';
import { featureSource, pixelSource, type InputSource } from './inputs.js';
import { loadBackbone, embedExamples, type Backbone } from './backbones/index.js';
import * as tf from '@tensorflow/tfjs';
import { argmax, auroc, decompose, fprAtTpr } from './metrics.js';
import { buildModel, type Rank1Model } from './models/index.js';
import { batchScores, SCORE_NAMES, type FeatureStats, type ScoreName } from './ood.js';
import { Rng } from './random.js';
import type { EvaluationReport, FineTuneConfig, ImagePrediction } from './types.js';

export type { EvaluationReport };

export type Prediction = ImagePrediction & {
  scores: Record<string, number>;
  flag?: { score: string; value: number; threshold: number };
  /** The model's warning (e.g. no OOD threshold: nothing is flagged), on every result. */
  warning?: string;
};

export interface LoadedModel {
  dir: string;
  meta: ModelMeta;
  /** The calibration temperature prediction and evaluation use (1 = none). */
  temperature: number;
  /**
   * The exact rank-1 factor values (α̃, γ̃ per effective member) and biases that predict and
   * evaluate use for `samples` (default: the model's), e.g. for the ONNX export.
   */
  predictionFactors(opts?: { samples?: number }): Promise<PredictionFactors>;
  predict(pixels: Uint8Array, count: number, opts?: { samples?: number }): Promise<Prediction[]>;
  evaluate(
    set: ExampleSet,
    opts?: {
      samples?: number;
      ood?: ExampleSet;
      signal?: AbortSignal;
      onProgress?: (done: number, total: number) => void;
    },
  ): Promise<EvaluationReport>;
  dispose(): void;
}

const PREDICT_BATCH = 64;

export async function loadModel(dir: string): Promise<LoadedModel> {
  if (!currentBackend()) await initBackend('auto');
  const { meta, weights } = await readModelFolder(dir);
  assertWeightsCanHold(meta.config, weights, dir);
  const model: Rank1Model = buildModel(meta.config, new Rng(1));
  try {
    assignWeights(model, weights, dir);
  } catch (e) {
    model.dispose();
    throw e;
  }
  const stats: FeatureStats | undefined = statsFromWeights(weights);
  let backbone: Backbone | undefined;
  if (meta.backbone) {
    try {
      // A model folder is untrusted (it may come from elsewhere): opening one never reaches the
      // network. The shipped copy or the cache (filled when training downloaded it) serves.
      backbone = await loadBackbone(meta.backbone, {
        download: false,
        fineTune: meta.config.fineTune?.blocks,
      });
    } catch (e) {
      model.dispose();
      throw e;
    }
    const mismatch = tailMismatch(meta.config.fineTune, backbone.tail?.config);
    if (mismatch) {
      backbone.dispose();
      model.dispose();
      throw new Error(`${dir}: ${mismatch}`);
    }
    if (backbone.sha256 !== meta.backbone.sha256) {
      backbone.dispose();
      model.dispose();
      throw new Error(
        `${dir}: needs backbone ${meta.backbone.name} with SHA-256 ${meta.backbone.sha256.slice(0, 12)}…, found ${backbone.sha256.slice(0, 12)}…`,
      );
    }
  }
  // wasm: spread the members' forward passes over worker threads (engine/parallel).
  const workers = resolveWorkers(currentBackend()?.name);
  let pool: Promise<WorkerPool> | undefined;
  const run: MemberRunner = (m, x, n, r, f) => {
    if (workers <= 0) return runMembers(m, x, n, r, f);
    pool ??= WorkerPool.create(meta.config, { workers, backend: currentBackend()!.name });
    return pool.then((p) => runMembersParallel(p, m, x, n, r, undefined, f));
  };
  // Prediction's fixed factors (issue 17 item 1): the stored draws, else drawn from the plan's seed.
  const factorCache = new Map<number, Promise<PredictionFactors>>();
  const factorsFor = (s?: number): Promise<PredictionFactors> => {
    const plan = resolvePlan(model, meta.prediction, { samples: samples(), seed: meta.train.seed }, s);
    let f = factorCache.get(plan.samples);
    if (!f) {
      f = Promise.resolve(factorsFromWeights(model, plan, weights) ?? drawPredictionFactors(model, plan));
      factorCache.set(plan.samples, f);
    }
    return f;
  };
  const temperature = meta.calibration?.temperature ?? 1;
  const imageShape = [meta.preprocessing.size, meta.preprocessing.size, meta.preprocessing.channels] as const;
  /** The network input for a batch of images: pixels, or the backbone's embedding of them. */
  const toInput = async (px: Uint8Array, n: number): Promise<tf.Tensor> =>
    backbone
      ? tf.tensor2d(await backbone.embed(px, n, imageShape), [n, backbone.embeddingSize])
      : pixelsToTensor(px, n, shape, meta.normalization);
  const sourceFor = async (set: ExampleSet, signal?: AbortSignal): Promise<InputSource> =>
    backbone
      ? featureSource(await embedExamples(backbone, set, { signal }))
      : pixelSource(set, shape, meta.normalization);
  // Unused with fixed factors; kept for the runner's signature.
  const seedFor = (n: number) => new Rng(0x5eed ^ n);
  const shape = meta.config.inputShape;
  const samples = (s?: number) => s ?? meta.train.evalSamples ?? 1;
  const flagOf = (scores: Record<ScoreName, number>) => {
    if (!meta.ood) return undefined;
    const value = scores[meta.ood.score as ScoreName];
    return { score: meta.ood.score, value, threshold: meta.ood.threshold };
  };

  return {
    dir,
    meta,
    temperature,
    predictionFactors: (opts = {}) => factorsFor(opts.samples),
    async predict(pixels, count, opts = {}) {
      const factors = await factorsFor(opts.samples);
      const size = imageShape[0] * imageShape[1] * imageShape[2];
      const out: Prediction[] = [];
      for (let start = 0; start < count; start += PREDICT_BATCH) {
        const n = Math.min(PREDICT_BATCH, count - start);
        const x = await toInput(pixels.subarray(start * size, (start + n) * size), n);
        const raw = await run(model, x, factors.samples, seedFor(0), factors);
        x.dispose();
        const res = temperature === 1 ? raw : withTemperature(raw, temperature);
        const scores = batchScores(res, stats);
        for (let b = 0; b < n; b++) {
          const d = decompose(res.probs, res.M, res.C, b * res.M * res.C);
          const top = argmax(d.mean);
          const flag = flagOf(scores[b]!);
          out.push({
            label: meta.classes[top]!,
            labelIndex: top,
            confidence: d.mean[top]!,
            probabilities: Array.from(d.mean),
            entropy: d.predictiveEntropy,
            expectedEntropy: d.expectedEntropy,
            mutualInformation: d.mutualInformation,
            ood: flag ? flag.value > flag.threshold : false,
            scores: scores[b]!,
            flag,
            ...(meta.warning ? { warning: meta.warning } : {}),
          });
        }
      }
      return out;
    },
    async evaluate(set, opts = {}) {
      const rng = seedFor(7);
      const factors = await factorsFor(opts.samples);
      const total = set.count + (opts.ood?.count ?? 0);
      // The in-distribution and OOD sets run under the same samples, factors and temperature.
      const shared = {
        samples: factors.samples,
        rng,
        stats,
        signal: opts.signal,
        run,
        factors,
        temperature,
      };
      const inOut = await evaluateExamples(model, await sourceFor(set, opts.signal), {
        ...shared,
        keepLogits: true,
        onProgress: (d) => opts.onProgress?.(d, total),
      });
      const before = calibrationMetrics(
        inOut.logits ?? { logits: new Float32Array(), n: 0, M: 1, C: 1 },
        set.labels,
        1,
      );
      const report: EvaluationReport = {
        metrics: {
          ...summarize(inOut.images, meta.classes.length),
          temperature,
          nll_uncalibrated: before.nll,
          ece_uncalibrated: before.ece,
          reliability_uncalibrated: before.reliability,
        },
        items: inOut.images.map((r) => ({
          file: set.files[r.index] ?? String(r.index),
          label: r.label,
          predicted: r.predicted,
          confidence: r.confidence,
          entropy: r.entropy,
          mutualInformation: r.mutualInformation,
        })),
      };
      if (opts.ood) {
        const oodOut = await evaluateExamples(model, await sourceFor(opts.ood, opts.signal), {
          ...shared,
          labelled: false,
          onProgress: (d) => opts.onProgress?.(set.count + d, total),
        });
        report.ood = oodMetrics(inOut.images, oodOut.images, meta);
        report.oodItems = oodOut.images.map((r) => ({
          file: opts.ood!.files[r.index] ?? String(r.index),
          entropy: r.entropy,
          mutualInformation: r.mutualInformation,
          ood: isFlagged(r, meta),
        }));
      }
      return report;
    },
    dispose() {
      model.dispose();
      backbone?.dispose();
      void pool?.then((p) => p.close());
    },
  };
}

/** Why a fine-tuned model's blocks and its backbone's cut disagree (undefined: they agree). */
export function tailMismatch(model?: FineTuneConfig, backbone?: FineTuneConfig): string | undefined {
  if (!model) return undefined;
  if (!backbone || backbone.cut !== model.cut || backbone.inputShape.join('x') !== model.inputShape.join('x'))
    return `the model fine-tunes the backbone after "${model.cut}" [${model.inputShape}], the backbone is cut at "${backbone?.cut}"`;
  return undefined;
}

function isFlagged(r: EvaluatedImage, meta: ModelMeta): boolean {
  if (!meta.ood) return false;
  return r.scores[meta.ood.score as ScoreName] > meta.ood.threshold;
}

/** AUROC and FPR@95%TPR for every score, with entropy/MI named as the CLI reports them. */
export function oodMetrics(
  inImgs: EvaluatedImage[],
  outImgs: EvaluatedImage[],
  meta: ModelMeta,
): NonNullable<EvaluationReport['ood']> {
  const scores: Record<string, { auroc: number; fpr95: number }> = {};
  for (const name of SCORE_NAMES) {
    const a = inImgs.map((r) => r.scores[name]);
    const b = outImgs.map((r) => r.scores[name]);
    if (a.some((v) => Number.isNaN(v))) continue;
    scores[name] = { auroc: auroc(a, b), fpr95: fprAtTpr(a, b) };
  }
  const flagName = meta.ood?.score ?? 'entropy';
  const rate = (imgs: EvaluatedImage[]) =>
    imgs.length ? imgs.filter((r) => isFlagged(r, meta)).length / imgs.length : 0;
  return {
    n_ood: outImgs.length,
    auroc_entropy: scores.entropy!.auroc,
    auroc_mi: scores.mutual_information!.auroc,
    fpr95_entropy: scores.entropy!.fpr95,
    fpr95_mi: scores.mutual_information!.fpr95,
    auroc_flag: scores[flagName]?.auroc ?? NaN,
    fpr95_flag: scores[flagName]?.fpr95 ?? NaN,
    ood_flag_rate: rate(outImgs),
    in_flag_rate: rate(inImgs),
    scores,
  };
}
