/**
 * Throughput of the benchmark model rank1-resnet20 on random data, timed like the PyTorch
 * yardstick (../shared/bench/torch_rank1_resnet20.py): 3 warm-up steps, then `steps` timed;
 * unique images per second.
 */
import * as tf from '@tensorflow/tfjs';
import { currentBackend } from './backends/index.js';
import { resolveModelConfig } from './defaults.js';
import { tileMembers } from './inference.js';
import { buildModel } from './models.js';
import { createOptimizer } from './optimizer.js';
import { Rng } from './random.js';
import { makeTrainStep } from './train.js';
import { benchResnet20Parallel } from './parallel/bench.js';
import { resolveWorkers } from './parallel/index.js';

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

export async function benchResnet20(opts: {
  batch: number;
  members: number;
  steps: number;
  classes?: number;
}): Promise<BenchResult[]> {
  const info = currentBackend();
  // wasm: worker threads, one backend each (engine/parallel; RANK1_WORKERS=0 runs in-process).
  const workers = resolveWorkers(info?.name ?? tf.getBackend());
  if (workers > 0) return benchResnet20Parallel({ ...opts, workers });
  const classes = opts.classes ?? 10;
  const config = resolveModelConfig(
    { size: 32, channels: 3, count: 50_000, numClasses: classes },
    { arch: 'resnet20', members: opts.members },
  );
  const rng = new Rng(0);
  const model = buildModel(config, rng);
  const optimizer = createOptimizer('sgd');
  const step = makeTrainStep(model, optimizer, { numClasses: classes, l2: 1e-4, trainSize: 50_000 });
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
    device: info?.device ?? '',
    batch: opts.batch,
    members: opts.members,
    model: 'rank1-resnet20',
  };
  try {
    const trainMs = await timed(async () => {
      await step(x, labels, 0.05, 1, rng);
    });
    const predictMs = await timed(async () => {
      const p = tf.tidy(() => {
        const { logits } = model.forward(tileMembers(x, opts.members), { training: false, rng });
        return tf.mean(tf.reshape(tf.softmax(logits), [opts.members, opts.batch, classes]), 0);
      });
      await p.data();
      p.dispose();
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
  }
}

const round = (v: number) => Math.round(v * 10) / 10;
