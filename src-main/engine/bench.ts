/**
 * Throughput of the benchmark model rank1-resnet20 on random data, timed like the PyTorch
 * yardstick (../shared/bench/torch_rank1_resnet20.py): 3 warm-up steps, then `steps` timed;
 * unique images per second. On wasm the step and the prediction run over worker threads
 * (engine/parallel; RANK1_WORKERS=0 runs in-process), as training does.
 */
import * as tf from '@tensorflow/tfjs';
import { currentBackend } from './backends/index.js';
import { resolveModelConfig } from './defaults.js';
import { tileMembers } from './inference.js';
import { buildModel } from './models/index.js';
import { createOptimizer } from './optimizer.js';
import {
  deviceWithWorkers,
  makeParallelTrainStep,
  resolveWorkers,
  runMembersParallel,
  WorkerPool,
} from './parallel/index.js';
import { Rng } from './random.js';
import { makeTrainStep } from './train.js';

export interface BenchResult {
  phase: 'train' | 'predict';
  images_per_s: number;
  ms_per_step: number;
  backend: string;
  device: string;
  batch: number;
  members: number;
  model: string;
}

export interface BenchOptions {
  batch: number;
  members: number;
  steps: number;
  classes?: number;
  /** Worker threads (default: resolveWorkers for the backend; 0 = in-process). */
  workers?: number;
  /** Unique images per training / prediction chunk on the workers. */
  chunkExamples?: number;
  predictChunkExamples?: number;
}

export async function benchResnet20(opts: BenchOptions): Promise<BenchResult[]> {
  const info = currentBackend();
  const backend = info?.name ?? tf.getBackend();
  const workers = resolveWorkers(backend, opts.workers);
  const classes = opts.classes ?? 10;
  const config = resolveModelConfig(
    { size: 32, channels: 3, count: 50_000, numClasses: classes },
    { arch: 'resnet20', members: opts.members },
  );
  const rng = new Rng(0);
  const model = buildModel(config, rng);
  const optimizer = createOptimizer('sgd');
  const pool =
    workers > 0 ? await WorkerPool.create(config, { workers, backend: backend as 'wasm' }) : undefined;
  const stepOpts = { numClasses: classes, l2: 1e-4, trainSize: 50_000 };
  const step = pool
    ? makeParallelTrainStep(model, optimizer, pool, { ...stepOpts, chunkExamples: opts.chunkExamples })
    : makeTrainStep(model, optimizer, stepOpts);
  const x = tf.randomNormal([opts.batch, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const labels = Int32Array.from({ length: opts.batch }, () => rng.int(classes));
  /** One prediction pass: the members' mean probabilities (spec §5), S = 1. */
  const predict = async () => {
    if (pool) {
      const out = await runMembersParallel(pool, model, x, 1, rng, opts.predictChunkExamples);
      const mean = new Float32Array(opts.batch * classes);
      for (let i = 0; i < out.probs.length; i++) {
        const c = i % classes;
        const b = Math.floor(i / (out.M * classes));
        mean[b * classes + c]! += out.probs[i]! / out.M;
      }
      return;
    }
    const p = tf.tidy(() => {
      const { logits } = model.forward(tileMembers(x, opts.members), { training: false, rng });
      return tf.mean(tf.reshape(tf.softmax(logits), [opts.members, opts.batch, classes]), 0);
    });
    await p.data();
    p.dispose();
  };
  const timed = async (fn: () => Promise<unknown>) => {
    for (let i = 0; i < 3; i++) await fn();
    const t0 = performance.now();
    for (let i = 0; i < opts.steps; i++) await fn();
    return (performance.now() - t0) / opts.steps;
  };
  const base = {
    backend,
    device: deviceWithWorkers(info?.device ?? '', pool),
    batch: opts.batch,
    members: opts.members,
    model: 'rank1-resnet20',
  };
  try {
    const trainMs = await timed(() => step(x, labels, 0.05, 1, rng));
    const predictMs = await timed(predict);
    return (
      [
        ['train', trainMs],
        ['predict', predictMs],
      ] as const
    ).map(([phase, ms]) => ({
      phase,
      images_per_s: round((opts.batch * 1000) / ms),
      ms_per_step: round(ms),
      ...base,
    }));
  } finally {
    x.dispose();
    model.dispose();
    optimizer.dispose();
    await pool?.close();
  }
}

const round = (v: number) => Math.round(v * 10) / 10;
