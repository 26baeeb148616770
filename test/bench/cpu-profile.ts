/**
 * Per-kernel profile of one rank1-resnet20 training step and one prediction pass on wasm
 * (tf.profile; kernels that call other kernels — the wasm gradient kernels — include their children).
 * Usage: npx tsx test/bench/cpu-profile.ts [batch=16] [members=4]
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src-main/engine/backends/index.js';
import { resolveModelConfig } from '../../src-main/engine/defaults.js';
import { tileMembers } from '../../src-main/engine/inference.js';
import { buildModel } from '../../src-main/engine/models/index.js';
import { createOptimizer } from '../../src-main/engine/optimizer.js';
import { Rng } from '../../src-main/engine/random.js';
import { makeTrainStep } from '../../src-main/engine/train.js';
import { readFileSync } from 'node:fs';

const B = Number(process.argv[2] ?? 16);
const K = Number(process.argv[3] ?? 4);
await initBackend('wasm');
const config = resolveModelConfig(
  { size: 32, channels: 3, count: 50_000, numClasses: 10 },
  { arch: 'resnet20', members: K },
);
const rng = new Rng(0);
const model = buildModel(config, rng);
const opt = createOptimizer('sgd');
const step = makeTrainStep(model, opt, { numClasses: 10, l2: 1e-4, trainSize: 50_000 });
const x = tf.randomNormal([B, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
const labels = Int32Array.from({ length: B }, () => rng.int(10));
const predict = async () => {
  const p = tf.tidy(() => {
    const { logits } = model.forward(tileMembers(x, K), { training: false, rng });
    return tf.mean(tf.reshape(tf.softmax(logits), [K, B, 10]), 0);
  });
  await p.data();
  p.dispose();
};
await step(x, labels, 0.05, 1, rng);
await predict();

function report(title: string, prof: Awaited<ReturnType<typeof tf.profile>>, wall: number) {
  const by = new Map<string, { ms: number; n: number }>();
  let total = 0;
  for (const k of prof.kernels) {
    const key = `${k.name} ${JSON.stringify(k.inputShapes?.[0] ?? [])}`;
    const e = by.get(key) ?? { ms: 0, n: 0 };
    e.ms += k.kernelTimeMs as number;
    e.n++;
    by.set(key, e);
  }
  const byName = new Map<string, number>();
  for (const k of prof.kernels) byName.set(k.name, (byName.get(k.name) ?? 0) + (k.kernelTimeMs as number));
  for (const v of byName.values()) total += v;
  console.log(
    `\n== ${title}: wall ${wall.toFixed(0)} ms, Σ kernels ${total.toFixed(0)} ms (nested counted twice), load ${readFileSync('/proc/loadavg', 'utf8').trim()}`,
  );
  console.log('-- by kernel');
  for (const [n, ms] of [...byName].sort((a, b) => b[1] - a[1]).slice(0, 25))
    console.log(`${ms.toFixed(1).padStart(9)}  ${n}`);
  console.log('-- by kernel and first input shape (top 30)');
  for (const [n, e] of [...by].sort((a, b) => b[1].ms - a[1].ms).slice(0, 30))
    console.log(`${e.ms.toFixed(1).padStart(9)} ×${String(e.n).padStart(3)}  ${n}`);
}
let t0 = performance.now();
const pt = await tf.profile(() => step(x, labels, 0.05, 1, rng) as unknown as tf.TensorContainer);
report(`train step B=${B} K=${K}`, pt, performance.now() - t0);
t0 = performance.now();
const pp = await tf.profile(() => predict() as unknown as tf.TensorContainer);
report(`predict B=${B} K=${K}`, pp, performance.now() - t0);
