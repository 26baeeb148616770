/**
 * Evaluation over an ExampleSet in bounded batches: accuracy, log-mixture NLL, ECE, Brier,
 * per-class accuracy, confusion, reliability (spec §5), plus per-image scores for OOD work.
 */
import * as tf from '@tensorflow/tfjs';
import { runMembers, withTemperature, type MemberOutputs } from './inference.js';
import type { InputSource } from './inputs.js';
import {
  argmax,
  brierScore,
  confusionMatrix,
  decompose,
  expectedCalibrationError,
  mixtureNll,
  reliabilityBins,
} from './metrics.js';
import type { Rank1Model } from './models/index.js';
import type { PredictionFactors } from './models/prediction-factors.js';
import { batchScores, type FeatureStats, type ScoreName } from './ood.js';
import type { Rng } from './random.js';
import type { DatasetMetrics } from './types.js';

export interface EvaluatedImage {
  index: number;
  label: number;
  predicted: number;
  confidence: number;
  probabilities: Float64Array;
  entropy: number;
  expectedEntropy: number;
  mutualInformation: number;
  nll: number;
  brier: number;
  scores: Record<ScoreName, number>;
}

export interface EvaluateOptions {
  samples: number;
  rng: Rng;
  batchSize?: number;
  stats?: FeatureStats;
  /** Keep the [n, D] features (for fitting feature statistics). */
  keepFeatures?: boolean;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
  /** Labels may be absent (OOD sets): pass false to skip label metrics. */
  labelled?: boolean;
  /** How the members are run (default in-process; engine/parallel spreads it over workers). */
  run?: MemberRunner;
  /** Prediction's fixed factor values (models/prediction-factors.ts); absent = per-row samples. */
  factors?: PredictionFactors;
  /** Temperature of the member softmaxes (calibration.ts); default 1. */
  temperature?: number;
  /** Keep the [n, M, C] logits (for fitting the temperature, and the uncalibrated metrics). */
  keepLogits?: boolean;
}

export type MemberRunner = (
  model: Rank1Model,
  x: tf.Tensor,
  samples: number,
  rng: Rng,
  factors?: PredictionFactors,
) => Promise<MemberOutputs>;

export interface EvaluateOutput {
  images: EvaluatedImage[];
  features?: Float32Array;
  D: number;
  /** [n, M, C] raw logits when `keepLogits`. */
  logits?: { logits: Float32Array; n: number; M: number; C: number };
}

export class CancelledError extends Error {
  constructor() {
    super('Cancelled.');
    this.name = 'AbortError';
  }
}

export async function evaluateExamples(
  model: Rank1Model,
  set: InputSource,
  opts: EvaluateOptions,
): Promise<EvaluateOutput> {
  const batch = opts.batchSize ?? 64;
  const images: EvaluatedImage[] = [];
  let features: Float32Array | undefined;
  let logits: EvaluateOutput['logits'];
  let D = 0;
  const labelled = opts.labelled ?? true;
  for (let start = 0; start < set.count; start += batch) {
    if (opts.signal?.aborted) throw new CancelledError();
    const idx = Array.from({ length: Math.min(batch, set.count - start) }, (_, i) => start + i);
    const x = await set.batch(idx);
    const raw = await (opts.run ?? runMembers)(model, x, opts.samples, opts.rng, opts.factors);
    x.dispose();
    const T = opts.temperature ?? 1;
    const out = T === 1 ? raw : withTemperature(raw, T);
    if (opts.keepLogits) {
      logits ??= { logits: new Float32Array(set.count * out.M * out.C), n: set.count, M: out.M, C: out.C };
      logits.logits.set(out.logits, start * out.M * out.C);
    }
    if (opts.keepFeatures && !features) {
      D = out.D;
      features = new Float32Array(set.count * D);
    }
    D = out.D;
    if (features) features.set(out.features, start * D);
    images.push(...imagesOf(out, idx, labelled ? set.labels : undefined, opts.stats));
    opts.onProgress?.(Math.min(set.count, start + batch), set.count);
    await tf.nextFrame?.();
  }
  return { images, features, D, logits };
}

/** Per-image results of one batch of member outputs (`idx`: the images' indices in the set). */
function imagesOf(
  out: MemberOutputs,
  idx: ArrayLike<number>,
  labels: ArrayLike<number> | undefined,
  stats: FeatureStats | undefined,
): EvaluatedImage[] {
  const scores = batchScores(out, stats);
  const images: EvaluatedImage[] = [];
  for (let b = 0; b < out.B; b++) {
    const i = idx[b]!;
    const o = b * out.M * out.C;
    const d = decompose(out.probs, out.M, out.C, o);
    const label = labels ? labels[i]! : -1;
    const predicted = argmax(d.mean);
    const trueLog = new Float64Array(out.M);
    if (label >= 0) for (let m = 0; m < out.M; m++) trueLog[m] = out.logProbs[o + m * out.C + label]!;
    images.push({
      index: i,
      label,
      predicted,
      confidence: d.mean[predicted]!,
      probabilities: d.mean,
      entropy: d.predictiveEntropy,
      expectedEntropy: d.expectedEntropy,
      mutualInformation: d.mutualInformation,
      nll: label >= 0 ? mixtureNll(trueLog) : NaN,
      brier: label >= 0 ? brierScore(d.mean, label) : NaN,
      scores: scores[b]!,
    });
  }
  return images;
}

/**
 * The images of an evaluation made with `keepLogits` and `keepFeatures`, again at temperature T
 * (calibration: fit T on the logits, then score at T without running the network again).
 */
export function imagesAtTemperature(
  out: EvaluateOutput,
  labels: ArrayLike<number> | undefined,
  T: number,
  stats?: FeatureStats,
): EvaluatedImage[] {
  if (!out.logits || !out.features) throw new Error('imagesAtTemperature needs keepLogits and keepFeatures');
  const { logits, n, M, C } = out.logits;
  const all = withTemperature({ B: n, M, C, logits, features: out.features, D: out.D }, T);
  return imagesOf(
    all,
    Array.from({ length: n }, (_, i) => i),
    labels,
    stats,
  );
}

export function summarize(images: EvaluatedImage[], numClasses: number): DatasetMetrics {
  const n = images.length;
  const correct = images.map((r) => r.label === r.predicted);
  const perClass = new Array<number>(numClasses).fill(0);
  const perClassN = new Array<number>(numClasses).fill(0);
  images.forEach((r, i) => {
    perClassN[r.label]!++;
    if (correct[i]) perClass[r.label]!++;
  });
  const mean = (f: (r: EvaluatedImage) => number) => (n ? images.reduce((s, r) => s + f(r), 0) / n : NaN);
  return {
    n,
    accuracy: mean((r) => (r.label === r.predicted ? 1 : 0)),
    nll: mean((r) => r.nll),
    ece: expectedCalibrationError(
      images.map((r) => r.confidence),
      correct,
    ),
    brier: mean((r) => r.brier),
    perClassAccuracy: perClass.map((c, i) => (perClassN[i] ? c / perClassN[i]! : NaN)),
    confusion: confusionMatrix(
      images.map((r) => r.label),
      images.map((r) => r.predicted),
      numClasses,
    ),
    reliability: reliabilityBins(
      images.map((r) => r.confidence),
      correct,
    ),
  };
}
