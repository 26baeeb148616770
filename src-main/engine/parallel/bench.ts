/**
 * bench.ts's `benchResnet20` over a worker pool: same model, data, warm-up and timing; the train
 * step is `makeParallelTrainStep` and the prediction pass `runMembersParallel` (S = 1).
 */
import * as tf from '@tensorflow/tfjs';
import type { BenchResult } from '../bench.js';
import { currentBackend } from '../backends/index.js';
import { resolveModelConfig } from '../defaults.js';
import { buildModel } from '../models.js';
import { createOptimizer } from '../optimizer.js';
import { Rng } from '../random.js';
import { makeParallelTrainStep, runMembersParallel, WorkerPool } from './index.js';

export async function benchResnet20Parallel(opts: {
  batch: number;
  members: number;
  steps: number;
  classes?: number;
  workers: number;
  chunkExamples?: number;
  predictChunkExamples?: number;
}): Promise<BenchResult[]> {
  const info = currentBackend();
  const classes = opts.classes ?? 10;
  const config = resolveModelConfig(
    { size: 32, channels: 3, count: 50_000, numClasses: classes },
    { arch: 'resnet20', members: opts.members },
  );
  const rng = new Rng(0);
  const model = buildModel(config, rng);
  const optimizer = createOptimizer('sgd');
  const pool = await WorkerPool.create(config, { workers: opts.workers, backend: info?.name ?? 'wasm' });
  const step = makeParallelTrainStep(model, optimizer, pool, {
    numClasses: classes,
    l2: 1e-4,
    trainSize: 50_000,
    chunkExamples: opts.chunkExamples,
  });
  const x = tf.randomNormal([opts.batch, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const labels = Int32Array.from({ length: opts.batch }, () => rng.int(classes));
  const timed = async (fn: () => Promise<void>) => {
    for (let i = 0; i < 3; i++) await fn();
    const t0 = performance.now();
    for (let i = 0; i < opts.steps; i++) await fn();
    return (performance.now() - t0) / opts.steps;
  };
  const base = {
    backend: info?.name ?? tf.getBackend(),
    device: `${info?.device ?? ''} × ${pool.size} worker threads`,
    batch: opts.batch,
    members: opts.members,
    model: 'rank1-resnet20',
  };
  try {
    const trainMs = await timed(async () => {
      await step(x, labels, 0.05, 1, rng);
    });
    const predictMs = await timed(async () => {
      const out = await runMembersParallel(pool, model, x, 1, rng, opts.predictChunkExamples);
      // The ensemble prediction: mean of the members' probabilities (as bench.ts).
      const mean = new Float32Array(opts.batch * classes);
      for (let b = 0; b < out.B; b++)
        for (let m = 0; m < out.M; m++)
          for (let c = 0; c < classes; c++)
            mean[b * classes + c]! += out.probs[(b * out.M + m) * classes + c]! / out.M;
    });
    return [
      {
        phase: 'train',
        images_per_s: round((opts.batch * 1000) / trainMs),
        ms_per_step: round(trainMs),
        ...base,
      },
      {
        phase: 'predict',
        images_per_s: round((opts.batch * 1000) / predictMs),
        ms_per_step: round(predictMs),
        ...base,
      },
    ];
  } finally {
    x.dispose();
    model.dispose();
    optimizer.dispose();
    await pool.close();
  }
}

const round = (v: number) => Math.round(v * 10) / 10;
