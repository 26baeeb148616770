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

  it('each member its own images (pretiled): member k is trained on block k, in-process and in workers', async () => {
    // An mlp (no BatchNorm), so a member's loss on its block can be computed on its own.
    const config = resolveModelConfig(shape, { arch: 'mlp', hidden: 8, members: 2, method: 'batchensemble' });
    const [a, b, probe] = [1, 2, 3].map(() => buildModel(config, new Rng(3)));
    const [oa, ob] = [createOptimizer('sgd'), createOptimizer('sgd')];
    const o = { numClasses: 3, l2: 0, trainSize: 100, pretiled: true };
    const x2 = tf.randomNormal([8, 8, 8, 1], 0, 1, 'float32', 6) as tf.Tensor4D;
    const labels2 = Int32Array.from([2, 2, 1, 1, 0, 0, 2, 1]);
    const ce = (logits: tf.Tensor, y: Int32Array) =>
      tf.neg(tf.sum(tf.mul(tf.oneHot(tf.tensor1d(y, 'int32'), 3), tf.logSoftmax(logits)), 1));
    const expected = tf.tidy(() => {
      // Member 0's rows of a tiled pass over block 0, member 1's rows of a tiled pass over block 1.
      const on = (xs: tf.Tensor, k: number) =>
        tf.slice(
          probe!.forward(tf.concat([xs, xs]), { training: true, rng: new Rng(0) }).logits,
          [8 * k, 0],
          [8, 3],
        );
      return tf.mean(tf.concat([ce(on(x, 0), labels), ce(on(x2, 1), labels2)])).dataSync()[0]!;
    });
    const xt = tf.concat([x, x2]) as tf.Tensor4D;
    const yt = Int32Array.from([...labels, ...labels2]);
    const ra = await makeTrainStep(a!, oa, o)(xt, yt, 0.05, 1, new Rng(0));
    const rb = await makeParallelTrainStep(b!, ob, await pool(config, 1), { ...o, chunkExamples: 8 })(
      xt,
      yt,
      0.05,
      1,
      new Rng(0),
    );
    expect(ra.nll).toBeCloseTo(expected, 5);
    expect(rb.nll).toBeCloseTo(expected, 4);
    expect(maxDiff(values(b!), values(a!))).toBeLessThan(1e-4);
    tf.dispose([x2, xt]);
    [a!, b!, probe!, oa, ob].forEach((m) => m.dispose());
  });

  it('an ensemble member moves as its network would alone on its block (not 1/K of it), in-process and in workers', async () => {
    // Deep ensembles train each network as if alone (Lakshminarayanan et al. 2017): the same
    // learning rate and L2 as one deterministic network, whatever K.
    const config = (members: number) =>
      resolveModelConfig(shape, { arch: 'mlp', hidden: 8, members, method: 'ensemble' });
    const [a, b] = [1, 2].map(() => buildModel(config(2), new Rng(3)));
    const alone = buildModel(config(1), new Rng(9));
    // The lone network starts as member 0: every ensemble tensor is [K, ...].
    for (const p of alone.params())
      p.variable.assign(tf.slice(a!.params().find((q) => q.name === p.name)!.variable, 0, 1));
    const before = alone.params().map((p) => Array.from(p.variable.dataSync()));
    const [oa, ob, oc] = [1, 2, 3].map(() => createOptimizer('sgd'));
    const o = { numClasses: 3, l2: 1e-2, trainSize: 100, pretiled: true };
    const x2 = tf.randomNormal([8, 8, 8, 1], 0, 1, 'float32', 6) as tf.Tensor4D;
    const xt = tf.concat([x, x2]) as tf.Tensor4D;
    const yt = Int32Array.from([...labels, 2, 2, 1, 1, 0, 0, 2, 1]);
    await makeTrainStep(a!, oa!, o)(xt, yt, 0.05, 1, new Rng(0));
    await makeParallelTrainStep(b!, ob!, await pool(config(2), 1), { ...o, chunkExamples: 8 })(
      xt,
      yt,
      0.05,
      1,
      new Rng(0),
    );
    await makeTrainStep(alone, oc!, o)(x, labels, 0.05, 1, new Rng(0));
    const member0 = (m: Rank1Model) =>
      alone.params().map((p) => {
        const v = m.params().find((q) => q.name === p.name)!.variable;
        return Array.from(tf.slice(v, 0, 1).dataSync());
      });
    const trained = member0(alone);
    expect(maxDiff(trained, before)).toBeGreaterThan(1e-3);
    expect(maxDiff(member0(a!), trained)).toBeLessThan(1e-5);
    expect(maxDiff(member0(b!), trained)).toBeLessThan(1e-4);
    tf.dispose([x2, xt]);
    [a!, b!, alone, oa!, ob!, oc!].forEach((m) => m.dispose());
  });

  it("the mixture objective's NLL is −mean log((1/K) Σ_k p_k(y)), in-process and in workers", async () => {
    const config = cnn('batchensemble');
    const [a, b, probe] = [1, 2, 3].map(() => buildModel(config, new Rng(4)));
    const [oa, ob] = [createOptimizer('sgd'), createOptimizer('sgd')];
    const o = { numClasses: 3, l2: 0, trainSize: 100, objective: 'mixture' as const };
    // The oracle: the members' probabilities of the true class from a forward pass before the step.
    const expected = tf.tidy(() => {
      const { logits } = probe!.forward(tf.concat([x, x]), { training: true, rng: new Rng(0) });
      const p = tf.sum(
        tf.mul(tf.softmax(logits), tf.oneHot(tf.tensor1d([...labels, ...labels], 'int32'), 3)),
        1,
      );
      return -tf.mean(tf.log(tf.mean(tf.reshape(p, [2, 8]), 0))).dataSync()[0]!;
    });
    const ra = await makeTrainStep(a!, oa, o)(x, labels, 0.05, 1, new Rng(0));
    const rb = await makeParallelTrainStep(b!, ob, await pool(config, 1), { ...o, chunkExamples: 8 })(
      x,
      labels,
      0.05,
      1,
      new Rng(0),
    );
    expect(ra.nll).toBeCloseTo(expected, 4);
    expect(rb.nll).toBeCloseTo(expected, 4);
    [a!, b!, probe!, oa, ob].forEach((m) => m.dispose());
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
