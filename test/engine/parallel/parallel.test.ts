/**
 * engine/parallel against the in-process engine (oracle): the same gradients and updates when the
 * samples coincide (batchensemble: no random factors), independence from the worker count,
 * runMembers equivalence, and no tensor leaks on the main thread.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src-main/engine/backends/index.js';
import { resolveModelConfig } from '../../../src-main/engine/defaults.js';
import { runMembers } from '../../../src-main/engine/inference.js';
import { buildModel, type Rank1Model } from '../../../src-main/engine/models/index.js';
import { createOptimizer } from '../../../src-main/engine/optimizer.js';
import {
  makeParallelTrainStep,
  resolveWorkers,
  runMembersParallel,
  WorkerPool,
} from '../../../src-main/engine/parallel/index.js';
import { Rng } from '../../../src-main/engine/random.js';
import { makeTrainStep } from '../../../src-main/engine/train.js';
import type { ModelConfig } from '../../../src-main/engine/types.js';

const shape = { size: 8, channels: 1 as const, count: 100, numClasses: 3 };
const cnn = (method: ModelConfig['method']) =>
  resolveModelConfig(shape, { arch: 'cnn', hidden: 8, members: 2, method });
const pools: WorkerPool[] = [];
const pool = async (config: ModelConfig, workers: number) => {
  const p = await WorkerPool.create(config, { workers, backend: 'wasm' });
  pools.push(p);
  return p;
};
const values = (m: Rank1Model) =>
  [...m.params().map((p) => p.variable), ...m.state()].map((v) => Array.from(v.dataSync()));
const maxDiff = (a: number[][], b: number[][]) =>
  Math.max(...a.map((x, i) => Math.max(...x.map((v, j) => Math.abs(v - b[i]![j]!)))));

let x: tf.Tensor4D;
const labels = Int32Array.from([0, 1, 2, 0, 1, 2, 0, 1]);

beforeAll(async () => {
  await initBackend('wasm');
  x = tf.randomNormal([8, 8, 8, 1], 0, 1, 'float32', 5) as tf.Tensor4D;
});

afterAll(async () => {
  x.dispose();
  await Promise.all(pools.map((p) => p.close()));
});

describe('resolveWorkers', () => {
  it('defaults to min(cores, 4) worker threads on wasm and none elsewhere; RANK1_WORKERS overrides', () => {
    const saved = process.env.RANK1_WORKERS;
    try {
      delete process.env.RANK1_WORKERS;
      expect(resolveWorkers('wasm')).toBeGreaterThanOrEqual(1);
      expect(resolveWorkers('wasm')).toBeLessThanOrEqual(4);
      expect(resolveWorkers('webgpu')).toBe(0);
      process.env.RANK1_WORKERS = '0';
      expect(resolveWorkers('wasm')).toBe(0);
      process.env.RANK1_WORKERS = '3';
      expect(resolveWorkers('cpu')).toBe(3);
      expect(resolveWorkers('wasm', 2)).toBe(2);
    } finally {
      if (saved === undefined) delete process.env.RANK1_WORKERS;
      else process.env.RANK1_WORKERS = saved;
    }
  });
});

describe('makeParallelTrainStep', () => {
  it('matches makeTrainStep (one chunk, batchensemble: same samples): loss, weights and BN statistics', async () => {
    const config = cnn('batchensemble');
    const a = buildModel(config, new Rng(3));
    const b = buildModel(config, new Rng(3));
    const [oa, ob] = [createOptimizer('sgd'), createOptimizer('sgd')];
    const o = { numClasses: 3, l2: 1e-3, trainSize: 100 };
    const seq = makeTrainStep(a, oa, o);
    const par = makeParallelTrainStep(b, ob, await pool(config, 1), { ...o, chunkExamples: 8 });
    for (let i = 0; i < 3; i++) {
      const ra = await seq(x, labels, 0.05, 1, new Rng(i));
      const rb = await par(x, labels, 0.05, 1, new Rng(i));
      expect(rb.loss).toBeCloseTo(ra.loss, 4);
      expect(rb.nll).toBeCloseTo(ra.nll, 4);
      expect(rb.accuracy).toBeCloseTo(ra.accuracy, 6);
    }
    expect(maxDiff(values(b), values(a))).toBeLessThan(1e-4);
    [a, b, oa, ob].forEach((m) => m.dispose());
  });

  it('rank-1 runs are identical for 1 and 2 workers (chunks draw their own samples)', async () => {
    const config = cnn('rank1');
    const runs: number[][][] = [];
    const losses: number[][] = [];
    for (const workers of [1, 2]) {
      const m = buildModel(config, new Rng(9));
      const opt = createOptimizer('sgd');
      const step = makeParallelTrainStep(m, opt, await pool(config, workers), {
        numClasses: 3,
        l2: 1e-4,
        trainSize: 100,
        chunkExamples: 2,
      });
      const ls: number[] = [];
      for (let i = 0; i < 3; i++) ls.push((await step(x, labels, 0.05, 1, new Rng(100 + i))).loss);
      runs.push(values(m));
      losses.push(ls);
      m.dispose();
      opt.dispose();
    }
    expect(losses[1]).toEqual(losses[0]);
    expect(maxDiff(runs[1]!, runs[0]!)).toBe(0);
  });

  it('leaves no tensors behind, on the main thread or in the workers', async () => {
    const config = cnn('rank1');
    const m = buildModel(config, new Rng(1));
    const opt = createOptimizer('sgd');
    const p = await pool(config, 2);
    const step = makeParallelTrainStep(m, opt, p, {
      numClasses: 3,
      l2: 1e-4,
      trainSize: 100,
      chunkExamples: 4,
    });
    const rng = new Rng(1);
    for (let i = 0; i < 3; i++) await step(x, labels, 0.01, 1, rng);
    const before = tf.memory();
    const workersBefore = [...p.workerTensors];
    for (let i = 0; i < 50; i++) await step(x, labels, 0.01, 1, rng);
    const after = tf.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
    expect(workersBefore.every((n) => n > 0)).toBe(true);
    expect(p.workerTensors).toEqual(workersBefore);
    m.dispose();
    opt.dispose();
  });
});

describe('runMembersParallel', () => {
  it('matches runMembers when the samples coincide (batchensemble), S = 2', async () => {
    const config = cnn('batchensemble');
    const m = buildModel(config, new Rng(4));
    // Non-trivial BN moving statistics, so that the workers must receive them.
    m.state().forEach((v, i) => v.assign(tf.fill(v.shape, i % 2 ? 2 : 0.3)));
    const p = await pool(config, 2);
    const a = await runMembers(m, x, 2, new Rng(1));
    const b = await runMembersParallel(p, m, x, 2, new Rng(1), 3);
    expect([b.B, b.M, b.C, b.D]).toEqual([a.B, a.M, a.C, a.D]);
    for (const k of ['probs', 'logProbs', 'meanLogits', 'features'] as const) {
      expect(maxDiff([Array.from(b[k])], [Array.from(a[k])])).toBeLessThan(1e-4);
    }
    m.dispose();
  });
});
