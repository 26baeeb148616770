/**
 * Training (spec §3–4): loss = mean CE over the K·B rows + L2 + kl_scale · KL / N_train,
 * SGD-Nesterov (or Adam) with warmup and step decay, validation each epoch, an atomic checkpoint
 * each epoch (resumable), cancel at any step, and the OOD statistics fitted at the end.
 */
import * as tf from '@tensorflow/tfjs';
import { checkRoom, type FreeSpace } from '../data/disk-space.js';
import type { ExampleSet, Preprocessing } from '../data/types.js';
import { readModelFolder, writeModelFolder, type ModelMeta, type OodFit } from './model-format.js';
import { currentBackend, initBackend } from './backends/index.js';
import { assertWeightsCanHold, assignWeights, checkpointBytes, collectWeights } from './checkpoint.js';
import {
  klScaleAt,
  learningRateAt,
  membersOf,
  resolveModelConfig,
  resolveTrainConfig,
  stepsPerEpoch as stepsIn,
  type Preset,
} from './defaults.js';
import { fitTemperature } from './calibration.js';
import {
  CancelledError,
  evaluateExamples,
  imagesAtTemperature,
  summarize,
  type MemberRunner,
} from './evaluate.js';
import { tileMembers, type Normalization } from './inference.js';
import { featureSource, pixelSource, type FeatureSet, type InputSource } from './inputs.js';
import { membersNllSum, nllWeight } from './loss.js';
import { buildModel, type Rank1Model } from './models/index.js';
import { assignPretrained, type BackboneTailWeights } from './models/tail.js';
import {
  DEFAULT_FACTOR_MODE,
  drawPredictionFactors,
  factorWeights,
  type PredictionFactors,
  type PredictionPlan,
} from './models/prediction-factors.js';
import { fitFeatureStats, SCORE_NAMES, type FeatureStats, type ScoreName } from './ood.js';
import { thresholdAtTpr } from './metrics.js';
import { createOptimizer, learningRateScales, type Optimizer } from './optimizer.js';
import { deviceWithWorkers, parallelTrainStep, runMembersParallel } from './parallel/index.js';
import { rngFor, type Rng } from './random.js';
import type { EpochMetrics, ModelConfig, TrainConfig, TrainEvent } from './types.js';

export interface TrainRequest {
  train: ExampleSet;
  val: ExampleSet;
  classes: string[];
  preprocessing: Preprocessing;
  datasetRoot?: string;
  heldOut?: { val: string[]; test: string[] };
  model?: Partial<ModelConfig>;
  config?: Partial<TrainConfig>;
  preset?: Preset;
  id: string;
  name?: string;
  /** The model folder; a checkpoint is written there atomically after every epoch. */
  outDir: string;
  /** Continue from the checkpoint in outDir. */
  resume?: boolean;
  /**
   * Transfer learning: the frozen backbone and the training/validation embeddings it produced;
   * the model is then a rank-1 head on those features (arch 'head').
   */
  backbone?: {
    name: string;
    sha256: string;
    embeddingSize: number;
    train: FeatureSet;
    val: FeatureSet;
    /** Fine-tuning: the backbone's last blocks, trained from these weights (models/tail.ts). */
    tail?: BackboneTailWeights;
  };
  /** Score behind the OOD flag and its target in-distribution acceptance rate. */
  oodScore?: ScoreName;
  oodTpr?: number;
  signal?: AbortSignal;
  onEvent?: (e: TrainEvent) => void;
  /** Free bytes on the models folder's disk, checked once at the start; the real disk's by default. */
  freeSpace?: FreeSpace;
}

/** The documented default flag score (see docs/benchmarks.md, OOD table). */
export const DEFAULT_FLAG_SCORE: ScoreName = 'mahalanobis';
/** Images used to fit feature statistics at most: bounds the extra pass on big datasets. */
const STATS_IMAGES = 5000;

/** Per-channel mean/std of pixels/255 over (up to) 2,000 training images. */
export async function computeNormalization(set: ExampleSet): Promise<Normalization> {
  const c = set.channels;
  const n = Math.min(set.count, 2000);
  const step = set.count / Math.max(1, n);
  const idx = Array.from({ length: n }, (_, i) => Math.floor(i * step));
  const sum = new Float64Array(c);
  const sq = new Float64Array(c);
  let count = 0;
  for (let s = 0; s < idx.length; s += 256) {
    const px = await set.read(idx.slice(s, s + 256));
    for (let i = 0; i < px.length; i++) {
      const v = px[i]! / 255;
      sum[i % c]! += v;
      sq[i % c]! += v * v;
    }
    count += px.length / c;
  }
  const mean = Array.from(sum, (s) => (count ? s / count : 0.5));
  const std = Array.from(sq, (s, i) =>
    Math.max(1e-3, Math.sqrt(Math.max(0, s / Math.max(1, count) - mean[i]! ** 2))),
  );
  return { mean, std };
}

export interface StepResult {
  loss: number;
  nll: number;
  kl: number;
  accuracy: number;
}

/** What a training step needs besides the model and the optimizer (in-process or in workers). */
export interface TrainStepOptions {
  numClasses: number;
  l2: number;
  /** The KL's divisor (spec §3: N_train). */
  trainSize: number;
  factorLrMultiplier?: number;
  /** x and labels already hold K·B member-major rows (TrainConfig.memberBatches 'independent'). */
  pretiled?: boolean;
  objective?: TrainConfig['objective'];
}

/**
 * One optimisation step on K·B rows: B images tiled K times here, or K member-major blocks of B
 * images each when `pretiled` (TrainConfig.memberBatches 'independent'):
 * loss = mean CE over K·B rows (the average of the members' NLLs, spec §3) + L2 + kl_scale·KL/N,
 * the CE weighted K for an ensemble of independent networks (loss.ts `nllWeight`).
 */
export function makeTrainStep(
  model: Rank1Model,
  optimizer: Optimizer,
  o: TrainStepOptions,
): (
  x: tf.Tensor4D | tf.Tensor2D,
  labels: Int32Array,
  lr: number,
  klScale: number,
  rng: Rng,
) => Promise<StepResult> {
  const K = membersOf(model.config);
  const params = model.params();
  const trainable = params.map((p) => p.variable);
  const decayed = params.filter((p) => p.decay).map((p) => p.variable);
  const lrScale = learningRateScales(params, o.factorLrMultiplier);
  const weight = nllWeight(model.config.method, K, o.objective);
  return async (x, labelValues, lr, klScale, rng) => {
    const labels = tf.tensor1d(labelValues, 'int32');
    let nllT: tf.Scalar | undefined;
    let klT: tf.Scalar | undefined;
    let accT: tf.Scalar | undefined;
    const { value, grads } = tf.variableGrads(
      () =>
        tf.tidy(() => {
          const xt = o.pretiled ? x : tileMembers(x, K);
          const yt = o.pretiled ? labels : tileMembers(labels, K);
          const { logits } = model.forward(xt, { training: true, rng });
          const { sum, count } = membersNllSum(logits, yt, o.numClasses, K, o.objective);
          const nll = tf.div(sum, count) as tf.Scalar;
          const kl = tf.div(model.klDivergence(rng), o.trainSize) as tf.Scalar;
          const l2 = tf.mul(o.l2, tf.addN(decayed.map((v) => tf.sum(tf.square(v))))) as tf.Scalar;
          nllT = tf.keep(nll);
          klT = tf.keep(kl);
          accT = tf.keep(tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), yt), 'float32')) as tf.Scalar);
          return tf.add(tf.add(tf.mul(nll, weight), l2), tf.mul(kl, klScale)) as tf.Scalar;
        }),
      trainable,
    );
    optimizer.apply(trainable, grads, lr, lrScale);
    const [loss, nll, kl, acc] = await Promise.all([value.data(), nllT!.data(), klT!.data(), accT!.data()]);
    tf.dispose([value, nllT!, klT!, accT!, labels, ...Object.values(grads)]);
    return { loss: loss[0]!, nll: nll[0]!, kl: kl[0]!, accuracy: acc[0]! };
  };
}

export async function trainModel(req: TrainRequest): Promise<ModelMeta> {
  const backend = currentBackend() ?? (await initBackend('auto'));
  const { train, val } = req;
  if (train.count < 2) throw new Error('the training split needs at least 2 images');
  const shape = {
    size: train.height,
    channels: train.channels,
    count: train.count,
    numClasses: req.classes.length,
    gpu: backend.name === 'webgpu' || (backend.name === 'tensorflow' && /gpu|cuda/i.test(backend.device)),
  };

  let config: ModelConfig;
  let tc: TrainConfig;
  let startEpoch = 0;
  let history: EpochMetrics[] = [];
  let resumed: Awaited<ReturnType<typeof readModelFolder>> | undefined;
  if (req.resume) {
    resumed = await readModelFolder(req.outDir, { optimizer: true });
    config = resumed.meta.config;
    tc = resumed.meta.train;
    startEpoch = resumed.meta.epoch;
    history = resumed.meta.history;
  } else {
    const head = req.backbone
      ? {
          arch: 'head' as const,
          embeddingSize: req.backbone.embeddingSize,
          ...(req.backbone.tail ? { fineTune: req.backbone.tail.config } : {}),
        }
      : {};
    config = resolveModelConfig(shape, { ...req.model, ...head }, req.preset);
    tc = resolveTrainConfig(
      shape,
      config,
      req.backbone ? { augment: { crop: false, flip: false }, ...req.config } : req.config,
      req.preset,
    );
  }
  if (tc.objective === 'mixture' && tc.memberBatches === 'independent') {
    // The mixture's likelihood is of one image under all K members; independent batches give none.
    throw new Error('train: the mixture objective needs tiled member batches');
  }
  if (config.inputShape[0] !== train.height || config.inputShape[2] !== train.channels) {
    throw new Error(
      `images are ${train.height}×${train.width}×${train.channels}, the model expects ${config.inputShape.join('×')}`,
    );
  }

  // A checkpoint is an untrusted file: its widths must fit its weights before anything is allocated.
  if (resumed) assertWeightsCanHold(config, resumed.weights, req.outDir);
  const model = buildModel(config, rngFor(tc.seed, 0));
  const optimizer = createOptimizer(tc.optimizer);
  let closeWorkers: (() => Promise<void>) | undefined;
  try {
    // Room for the checkpoints, once, before any epoch (data/disk-space.ts): two of them, since an
    // atomic replace holds the old folder and the new one at once.
    await checkRoom(
      req.outDir,
      2 * checkpointBytes(model, tc.optimizer),
      { label: req.name ?? req.id, what: 'training', place: 'the models folder' },
      req.freeSpace,
    );
    const normalization: Normalization = resumed?.meta.normalization ?? (await computeNormalization(train));
    const sources = (): { train: InputSource; val: InputSource } =>
      req.backbone
        ? { train: featureSource(req.backbone.train), val: featureSource(req.backbone.val) }
        : {
            train: pixelSource(train, config.inputShape, normalization),
            val: pixelSource(val, config.inputShape, normalization),
          };
    const src = sources();
    if (!resumed && req.backbone?.tail) assignPretrained(model, req.backbone.tail.weights);
    if (resumed) {
      assignWeights(model, resumed.weights, req.outDir);
      optimizer.load(new Map(resumed.optimizer.map((w) => [w.name, w.data])));
    }
    const B = Math.min(tc.batchSize, train.count);
    const stepsPerEpoch = stepsIn(train.count, B);
    const totalSteps = tc.epochs * stepsPerEpoch;
    const stepOpts = {
      numClasses: req.classes.length,
      l2: tc.l2,
      trainSize: Math.max(train.count, tc.klReferenceSize ?? 0),
      factorLrMultiplier: tc.factorLrMultiplier,
      pretiled: tc.memberBatches === 'independent' && membersOf(config) > 1,
      objective: tc.objective,
    };
    // wasm: data-parallel over worker threads (engine/parallel; RANK1_WORKERS=0 keeps it in-process).
    const parallel = await parallelTrainStep(backend.name, model, optimizer, stepOpts);
    closeWorkers = parallel && (() => parallel.pool.close());
    const trainStep = parallel ?? makeTrainStep(model, optimizer, stepOpts);
    const run: MemberRunner | undefined =
      parallel && ((m, x, n, r, f) => runMembersParallel(parallel.pool, m, x, n, r, undefined, f));
    // Validation and the final fits use prediction's fixed factors (issue 17 item 1), so the
    // numbers reported are the numbers the saved model gives.
    const plan: PredictionPlan = {
      mode: DEFAULT_FACTOR_MODE,
      samples: DEFAULT_FACTOR_MODE === 'mean' ? 1 : tc.evalSamples,
      seed: tc.seed,
    };
    const device = deviceWithWorkers(backend.device, parallel?.pool);

    const baseMeta = (): Omit<ModelMeta, 'weights' | 'format' | 'formatVersion'> => ({
      id: req.id,
      name: req.name ?? req.id,
      createdAt: resumed?.meta.createdAt ?? new Date().toISOString(),
      classes: req.classes,
      config,
      train: tc,
      preprocessing: req.preprocessing,
      normalization,
      datasetRoot: req.datasetRoot,
      heldOut: req.heldOut,
      trainSize: train.count,
      history,
      backend: { name: backend.name, device },
      backbone: req.backbone
        ? { name: req.backbone.name, sha256: req.backbone.sha256, embeddingSize: req.backbone.embeddingSize }
        : null,
      epoch: startEpoch,
    });

    req.onEvent?.({
      type: 'start',
      totalSteps,
      stepsPerEpoch,
      backend: backend.name,
      device,
    });
    const started = performance.now();
    let stepsDone = 0;

    for (let epoch = startEpoch; epoch < tc.epochs; epoch++) {
      const erng = rngFor(tc.seed, epoch + 1);
      // One shuffle per member when each member sees its own images (member-major blocks of B).
      const orders = Array.from({ length: stepOpts.pretiled ? membersOf(config) : 1 }, () =>
        erng.permutation(train.count),
      );
      const batchIndices = (s: number) => {
        const idx = new Int32Array(orders.length * B);
        orders.forEach((o, k) => idx.set(o.subarray(s * B, (s + 1) * B), k * B));
        return idx;
      };
      const epochStart = performance.now();
      let lossSum = 0;
      let nllSum = 0;
      let accSum = 0;
      let klLast = 0;
      let lr = 0;
      const load = (s: number) => src.train.batch(batchIndices(s), { config: tc.augment, rng: erng });
      let next = load(0);
      for (let step = 0; step < stepsPerEpoch; step++) {
        if (req.signal?.aborted) {
          req.onEvent?.({ type: 'cancelled', epoch });
          throw new CancelledError();
        }
        const x = (await next) as tf.Tensor4D;
        if (step + 1 < stepsPerEpoch) next = load(step + 1);
        const idx = batchIndices(step);
        const globalStep = epoch * stepsPerEpoch + step;
        lr = learningRateAt(tc, globalStep / stepsPerEpoch);
        const klScale = klScaleAt(tc, globalStep, stepsPerEpoch);
        const srng = rngFor(tc.seed, 1_000_003 + globalStep);
        const r = await trainStep(
          x,
          Int32Array.from(idx, (i) => train.labels[i]!),
          lr,
          klScale,
          srng,
        );
        x.dispose();
        if (!Number.isFinite(r.loss))
          throw new Error(
            `training diverged at epoch ${epoch + 1}, step ${step + 1} (loss ${r.loss}); try a lower learning rate`,
          );
        lossSum += r.loss;
        nllSum += r.nll;
        accSum += r.accuracy;
        klLast = r.kl;
        stepsDone++;
        const elapsed = (performance.now() - started) / 1000;
        const ips = (stepsDone * B) / Math.max(elapsed, 1e-6);
        req.onEvent?.({
          type: 'step',
          epoch: epoch + 1,
          step: globalStep + 1,
          totalSteps,
          loss: r.loss,
          kl: klLast,
          lr,
          imagesPerSecond: ips,
          etaSeconds: ((totalSteps - globalStep - 1) * B) / Math.max(ips, 1e-6),
        });
      }
      const evalOut = val.count
        ? await evaluateExamples(model, src.val, {
            samples: tc.evalSamples,
            rng: rngFor(tc.seed, 2_000_003 + epoch),
            signal: req.signal,
            run,
            factors: await drawPredictionFactors(model, plan),
          })
        : undefined;
      const vm = evalOut ? summarize(evalOut.images, req.classes.length) : undefined;
      const seconds = (performance.now() - epochStart) / 1000;
      const metrics: EpochMetrics = {
        epoch: epoch + 1,
        trainLoss: lossSum / stepsPerEpoch,
        trainNll: nllSum / stepsPerEpoch,
        trainAccuracy: accSum / stepsPerEpoch,
        kl: klLast,
        lr,
        valAccuracy: vm?.accuracy ?? NaN,
        valNll: vm?.nll ?? NaN,
        valEce: vm?.ece ?? NaN,
        valLoss: vm ? vm.nll + klLast : NaN,
        seconds,
        imagesPerSecond: (stepsPerEpoch * B) / seconds,
      };
      history = [...history, metrics];
      startEpoch = epoch + 1;
      req.onEvent?.({ type: 'epoch', metrics });
      const last = epoch + 1 === tc.epochs;
      if (!last) {
        await writeModelFolder(
          req.outDir,
          { ...baseMeta(), epoch: epoch + 1, metrics: vm ? { val: vm } : undefined },
          await collectWeights(model),
          await optimizer.saveState(),
        );
        req.onEvent?.({ type: 'checkpoint', epoch: epoch + 1, dir: req.outDir });
      }
    }

    const factors = await drawPredictionFactors(model, plan);
    const { stats, ood, valMetrics, temperature } = await fitOod(model, req, src, tc, factors, run);
    const meta = await writeModelFolder(
      req.outDir,
      {
        ...baseMeta(),
        epoch: tc.epochs,
        metrics: valMetrics ? { val: valMetrics } : undefined,
        ood,
        prediction: plan,
        calibration: { temperature },
      },
      [...(await collectWeights(model, stats)), ...factorWeights(factors)],
    );
    req.onEvent?.({ type: 'done', modelDir: req.outDir });
    return meta;
  } finally {
    await closeWorkers?.();
    model.dispose();
    optimizer.dispose();
  }
}

/**
 * Feature statistics on (up to 5,000) training images; on the validation split the calibration
 * temperature (unless `calibrate: false`), then every score's threshold on the calibrated scores.
 */
async function fitOod(
  model: Rank1Model,
  req: TrainRequest,
  src: { train: InputSource; val: InputSource },
  tc: TrainConfig,
  factors: PredictionFactors,
  run?: MemberRunner,
) {
  const rng = rngFor(tc.seed, 3_000_017);
  const pick =
    src.train.count > STATS_IMAGES ? rng.permutation(src.train.count).subarray(0, STATS_IMAGES) : undefined;
  const statsSet = pick ? subsetSource(src.train, pick) : src.train;
  const trainOut = await evaluateExamples(model, statsSet, {
    samples: 1,
    rng,
    keepFeatures: true,
    signal: req.signal,
    run,
    factors,
  });
  let stats: FeatureStats | undefined;
  try {
    stats = fitFeatureStats(trainOut.features!, statsSet.labels, trainOut.D, req.classes.length);
  } catch {
    stats = undefined; // degenerate features (e.g. a dead network): distance scores unavailable
  }
  // The threshold needs images the network never trained on: on the training images it would be
  // too low (they fit better) and kNN would match each image with itself (distance 0). With no
  // held-out split there is no threshold; the meta's derived `warning` says so on every prediction.
  if (!src.val.count) return { stats, ood: undefined, valMetrics: undefined, temperature: 1 };
  const held = src.val;
  const heldOut = await evaluateExamples(model, held, {
    samples: tc.evalSamples,
    rng,
    stats,
    signal: req.signal,
    run,
    factors,
    keepLogits: true,
    keepFeatures: true,
  });
  // Only a held-out split can calibrate: fitted on training images T would only sharpen.
  const temperature = tc.calibrate !== false ? fitTemperature(heldOut.logits!, held.labels) : 1;
  const images = imagesAtTemperature(heldOut, held.labels, temperature, stats);
  const score: ScoreName = stats ? (req.oodScore ?? DEFAULT_FLAG_SCORE) : 'entropy';
  const tpr = req.oodTpr ?? 0.95;
  // Every score's threshold at the same TPR: the user may switch the flag's score later.
  const thresholds: Record<string, number> = {};
  for (const name of SCORE_NAMES) {
    const values = images.map((r) => r.scores[name]);
    if (!values.some((v) => Number.isNaN(v))) thresholds[name] = thresholdAtTpr(values, tpr);
  }
  const ood: OodFit = {
    score,
    threshold: thresholds[score]!,
    tpr,
    thresholds,
    split: 'val',
    count: held.count,
  };
  return {
    stats,
    ood,
    valMetrics: summarize(images, req.classes.length),
    temperature,
  };
}

function subsetSource(src: InputSource, pick: ArrayLike<number>): InputSource {
  const map = Array.from(pick);
  return {
    count: map.length,
    labels: Int32Array.from(map, (i) => src.labels[i]!),
    files: map.map((i) => src.files[i]!),
    batch: (idx, augment) =>
      src.batch(
        Array.from(idx, (i) => map[i]!),
        augment,
      ),
  };
}
