/**
 * engine/parallel: data-parallel training and prediction over worker threads, for the wasm
 * backend (one thread per backend in Node; each worker adds a core). The only public entry.
 *
 * - `makeParallelTrainStep` has the signature of train.ts's `makeTrainStep`: the batch is cut into
 *   chunks of `chunkExamples` unique examples (tiled K times in the worker), spread over the
 *   workers; the main thread sums the chunk gradients in chunk order, adds the L2 and KL
 *   gradients, and applies the optimizer to its own model. BatchNorm statistics are per chunk
 *   (ghost batch norm); the moving statistics get one update per step, from the chunks' average.
 *   Each chunk draws its factor samples from its own seed, so a run depends on the chunk size but
 *   not on the worker count.
 * - `runMembersParallel` is `runMembers` (inference.ts) with the batch split over the workers.
 */
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { membersOf } from '../defaults.js';
import { withTemperature, type MemberOutputs } from '../inference.js';
import type { Rank1Model } from '../models/index.js';
import type { PredictionFactors } from '../models/prediction-factors.js';
import { nllCount, nllWeight } from '../loss.js';
import { learningRateScales, type Optimizer } from '../optimizer.js';
import type { Rng } from '../random.js';
import type { StepResult, TrainStepOptions } from '../train.js';
import type { BackendName } from '../types.js';
import { WorkerPool } from './pool.js';
import type { Chunk } from './protocol.js';

export { WorkerPool, type PoolOptions } from './pool.js';

/** The device as reported to the user: the backend's, times the worker threads that share the work. */
export function deviceWithWorkers(device: string, pool: { size: number } | null | undefined): string {
  return pool ? `${device} × ${pool.size} worker threads` : device;
}

/** Unique examples per training chunk: 16 × K=4 = 64 rows keeps a worker's wasm heap well under 4 GB. */
export const TRAIN_CHUNK_EXAMPLES = 16;
/** Unique examples per prediction chunk (no gradient tape: larger chunks fit). */
export const PREDICT_CHUNK_EXAMPLES = 32;
/** BatchNorm's moving-average momentum (layers/batchnorm.ts default, used by every model). */
export const BN_MOMENTUM = 0.9;

/**
 * Worker threads to use: env RANK1_WORKERS when set (0 = none, run in-process), else
 * min(cores, 4) on wasm and 0 on every other backend (they already use the machine).
 */
export function resolveWorkers(backend: BackendName | string | undefined, requested?: number): number {
  const env = process.env.RANK1_WORKERS;
  const fromEnv = env !== undefined && env.trim() !== '' ? Number(env) : NaN;
  const n = requested ?? (Number.isFinite(fromEnv) ? fromEnv : undefined);
  if (n !== undefined) return Math.max(0, Math.floor(n));
  return backend === 'wasm' ? Math.max(1, Math.min(availableParallelism(), 4)) : 0;
}

/**
 * Chunks of `per` examples. `members` > 1: x holds that many member-major blocks of B rows
 * (pretiled), and a chunk takes the same example positions from every block, member-major.
 */
function chunksOf(
  x: Float32Array,
  shape: readonly number[],
  per: number,
  rng: Rng,
  labels?: Int32Array,
  members = 1,
): Chunk[] {
  const B = shape[0]! / members;
  const size = shape.slice(1).reduce((a, b) => a * b, 1);
  const out: Chunk[] = [];
  for (let b0 = 0, i = 0; b0 < B; b0 += per, i++) {
    const b1 = Math.min(B, b0 + per);
    const rows = Array.from({ length: members }, (_, k) => [k * B + b0, k * B + b1] as const);
    const cx = new Float32Array((b1 - b0) * members * size);
    rows.forEach(([r0, r1], k) => cx.set(x.subarray(r0 * size, r1 * size), k * (b1 - b0) * size));
    out.push({
      index: i,
      x: cx,
      shape: [(b1 - b0) * members, ...shape.slice(1)],
      labels: labels && Int32Array.from(rows.flatMap(([r0, r1]) => Array.from(labels.subarray(r0, r1)))),
      seed: rng.seed(),
      ...(members > 1 ? { pretiled: true } : {}),
    });
  }
  return out;
}

export interface ParallelTrainStep {
  (
    x: tf.Tensor4D | tf.Tensor2D,
    labels: Int32Array,
    lr: number,
    klScale: number,
    rng: Rng,
  ): Promise<StepResult>;
  pool: WorkerPool;
}

/**
 * `makeTrainStep` over a worker pool. The pool must hold replicas of `model.config`; call
 * `pool.invalidate()` if the model's weights are changed outside this step.
 */
export function makeParallelTrainStep(
  model: Rank1Model,
  optimizer: Optimizer,
  pool: WorkerPool,
  o: TrainStepOptions & { chunkExamples?: number },
): ParallelTrainStep {
  const K = membersOf(model.config);
  const params = model.params();
  const trainable = params.map((p) => p.variable);
  const decayed = params.filter((p) => p.decay).map((p) => p.variable);
  const lrScale = learningRateScales(params, o.factorLrMultiplier);
  const weight = nllWeight(model.config.method, K, o.objective);
  const state = model.state();
  const per = o.chunkExamples ?? TRAIN_CHUNK_EXAMPLES;
  const step = (async (x, labelValues, lr, klScale, rng) => {
    const members = o.pretiled ? K : 1;
    const B = x.shape[0] / members;
    const chunks = chunksOf((await x.data()) as Float32Array, x.shape, per, rng, labelValues, members);
    const rows = nllCount(K * B, K, o.objective);
    const results = await pool.train(model, chunks, {
      K,
      totalRows: rows / weight,
      numClasses: o.numClasses,
      ...(o.objective === 'mixture' ? { objective: 'mixture' as const } : {}),
    });
    // Σ over chunks, in chunk order (deterministic for any worker count).
    const sums = trainable.map((v) => new Float32Array(v.size));
    const has = trainable.map(() => false);
    let nllSum = 0;
    let correct = 0;
    for (const r of results) {
      r.grads.forEach((g, i) => {
        if (!g) return;
        has[i] = true;
        const s = sums[i]!;
        for (let j = 0; j < s.length; j++) s[j]! += g[j]!;
      });
      nllSum += r.nllSum;
      correct += r.correct;
    }
    // The regularisers depend on the parameters only: their gradients come from the main model.
    let klT: tf.Scalar | undefined;
    let regT: tf.Scalar | undefined;
    const { value, grads: regGrads } = tf.variableGrads(
      () =>
        tf.tidy(() => {
          const kl = tf.div(model.klDivergence(rng), o.trainSize) as tf.Scalar;
          const l2 = tf.mul(o.l2, tf.addN(decayed.map((v) => tf.sum(tf.square(v))))) as tf.Scalar;
          klT = tf.keep(kl);
          const reg = tf.add(l2, tf.mul(kl, klScale)) as tf.Scalar;
          regT = tf.keep(reg);
          return reg;
        }),
      trainable,
    );
    const grads: Record<string, tf.Tensor> = {};
    trainable.forEach((v, i) => {
      const r = regGrads[v.name];
      if (!has[i]) {
        if (r) grads[v.name] = tf.clone(r);
        return;
      }
      const d = tf.tensor(sums[i]!, v.shape);
      grads[v.name] = r ? tf.add(d, r) : d;
      if (r) d.dispose();
    });
    optimizer.apply(trainable, grads, lr, lrScale);
    // Moving statistics: m·moving + mean over chunks of (1 − m)·batch statistics.
    tf.tidy(() =>
      state.forEach((s, i) => {
        const avg = new Float32Array(s.size);
        for (const r of results) {
          const st = r.stats[i]!;
          for (let j = 0; j < avg.length; j++) avg[j]! += st[j]! / results.length;
        }
        s.assign(tf.add(tf.mul(s, BN_MOMENTUM), tf.tensor(avg, s.shape)));
      }),
    );
    pool.invalidate();
    const [klV, regV] = await Promise.all([klT!.data(), regT!.data()]);
    tf.dispose([value, klT!, regT!, ...Object.values(regGrads), ...Object.values(grads)]);
    const nll = nllSum / rows;
    return { loss: weight * nll + regV[0]!, nll, kl: klV[0]!, accuracy: correct / (K * B) };
  }) as ParallelTrainStep;
  step.pool = pool;
  return step;
}

/**
 * `runMembers` (inference.ts) over a worker pool: the B images are cut into chunks, each run S
 * times on a worker; same output layout. Sampled factors differ from the in-process run (per-chunk
 * seeds); with prediction's fixed `factors` the rows equal the in-process ones (to float tolerance).
 */
export async function runMembersParallel(
  pool: WorkerPool,
  model: Rank1Model,
  x: tf.Tensor,
  samples: number,
  rng: Rng,
  chunkExamples = PREDICT_CHUNK_EXAMPLES,
  factors?: PredictionFactors,
): Promise<MemberOutputs> {
  const K = membersOf(model.config);
  const B = x.shape[0];
  const S = factors ? factors.samples : Math.max(1, samples);
  const per = Math.max(1, Math.min(chunkExamples, Math.ceil(B / pool.size)));
  const chunks = chunksOf((await x.data()) as Float32Array, x.shape, per, rng);
  const shipped = factors && { members: factors.members, layers: factors.layers };
  const results = await pool.forward(model, chunks, { K, samples: S, factors: shipped });
  const C = results[0]!.C;
  const D = results[0]!.D;
  const M = S * K;
  const logits = new Float32Array(B * M * C);
  const features = new Float32Array(B * D);
  let b0 = 0;
  for (const r of results) {
    const b = r.logits.length / (S * K * C);
    // chunk logits [S, K, b, C] → image (b0 + i), row m = s·K + k.
    for (let s = 0; s < S; s++)
      for (let k = 0; k < K; k++)
        for (let i = 0; i < b; i++) {
          const src = ((s * K + k) * b + i) * C;
          const img = b0 + i;
          logits.set(r.logits.subarray(src, src + C), (img * M + s * K + k) * C);
          const fs = ((s * K + k) * b + i) * D;
          for (let d = 0; d < D; d++) features[img * D + d]! += r.features[fs + d]! / M;
        }
    b0 += b;
  }
  return withTemperature({ B, M, C, logits, features, D }, 1);
}

/**
 * The hook for train.ts: a parallel train step when `resolveWorkers(backend)` asks for worker
 * threads (wasm by default), else undefined (use `makeTrainStep`). Close `step.pool` when done.
 */
export async function parallelTrainStep(
  backend: BackendName,
  model: Rank1Model,
  optimizer: Optimizer,
  o: TrainStepOptions,
): Promise<ParallelTrainStep | undefined> {
  const workers = resolveWorkers(backend);
  if (workers <= 0) return undefined;
  const pool = await WorkerPool.create(model.config, { workers, backend });
  return makeParallelTrainStep(model, optimizer, pool, o);
}
