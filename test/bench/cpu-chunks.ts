/**
 * CPU time (all threads of this process) per image for training and prediction chunk sizes, one
 * worker thread: an efficiency measure that a loaded machine distorts far less than wall time.
 * Usage: npx tsx test/bench/cpu-chunks.ts [batch=32] [steps=2] [trainChunks=8,16,32] [predictChunks=16,32,64]
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src-main/engine/backends/index.js';
import { resolveModelConfig } from '../../src-main/engine/defaults.js';
import { buildModel } from '../../src-main/engine/models/index.js';
import { createOptimizer } from '../../src-main/engine/optimizer.js';
import {
  makeParallelTrainStep,
  runMembersParallel,
  WorkerPool,
} from '../../src-main/engine/parallel/index.js';
import { Rng } from '../../src-main/engine/random.js';

const [batch = 32, steps = 2] = process.argv.slice(2, 4).map(Number);
const trainChunks = (process.argv[4] ?? '8,16,32').split(',').map(Number);
const predictChunks = (process.argv[5] ?? '16,32,64').split(',').map(Number);
await initBackend('wasm');
const config = resolveModelConfig(
  { size: 32, channels: 3, count: 50_000, numClasses: 10 },
  { arch: 'resnet20', members: 4 },
);
const rng = new Rng(0);
const model = buildModel(config, rng);
const opt = createOptimizer('sgd');
const pool = await WorkerPool.create(config, { workers: 1 });
const x = tf.randomNormal([batch, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
const labels = Int32Array.from({ length: batch }, () => rng.int(10));
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
async function measure(fn: () => Promise<unknown>) {
  await fn();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await fn();
  const c = process.cpuUsage(c0);
  return {
    cpuMsPerImage: Math.round(((c.user + c.system) / 1000 / steps / batch) * 10) / 10,
    wallMsPerImage: Math.round(((performance.now() - t0) / steps / batch) * 10) / 10,
  };
}
for (const c of trainChunks) {
  const step = makeParallelTrainStep(model, opt, pool, {
    numClasses: 10,
    l2: 1e-4,
    trainSize: 50_000,
    chunkExamples: c,
  });
  console.log(
    JSON.stringify({
      phase: 'train',
      chunk: c,
      ...(await measure(() => step(x, labels, 0.01, 1, rng))),
      load: load(),
    }),
  );
}
for (const c of predictChunks) {
  console.log(
    JSON.stringify({
      phase: 'predict',
      chunk: c,
      ...(await measure(() => runMembersParallel(pool, model, x, 1, rng, c))),
      load: load(),
    }),
  );
}
await pool.close();
