/* global process, console */
// Compares the engine's forward pass and gradients on the webgpu backend with the cpu backend
// for the same weights and the same factor samples (issue 6: numerics within a stated tolerance).
// Run on the GPU machine after `npm run build:main`: node test/bench/gpu-correctness.mjs
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../dist/main/engine/backends/index.js';
import { buildModel, namedVariables } from '../../dist/main/engine/models.js';
import { resolveModelConfig } from '../../dist/main/engine/defaults.js';
import { Rng } from '../../dist/main/engine/random.js';

const TOL = 1e-3; // relative to the largest reference magnitude (fp32, different summation order)
const config = resolveModelConfig({ size: 32, channels: 3, count: 50000, numClasses: 10 }, { arch: 'resnet20', members: 4 });

async function run(backend) {
  await initBackend(backend);
  const model = buildModel(config, new Rng(1));
  const x = tf.randomNormal([8 * 4, 32, 32, 3], 0, 1, 'float32', 5);
  const y = tf.oneHot(tf.tensor1d(Array.from({ length: 32 }, (_, i) => i % 10), 'int32'), 10);
  const vars = model.params().map((p) => p.variable);
  const { value, grads } = tf.variableGrads(() =>
    tf.tidy(() => {
      const { logits } = model.forward(x, { training: true, rng: new Rng(42) });
      return tf.neg(tf.mean(tf.sum(tf.mul(y, tf.logSoftmax(logits)), 1)));
    }),
    vars,
  );
  const logits = tf.tidy(() => model.forward(x, { training: false, rng: new Rng(43) }).logits);
  const out = { loss: (await value.data())[0], logits: await logits.data(), grads: {} };
  for (const [name, v] of namedVariables(model)) if (grads[v.name]) out.grads[name] = await grads[v.name].data();
  model.dispose();
  return out;
}

const rel = (a, b) => {
  let max = 0, diff = 0;
  for (let i = 0; i < a.length; i++) { max = Math.max(max, Math.abs(b[i])); diff = Math.max(diff, Math.abs(a[i] - b[i])); }
  return diff / Math.max(max, 1e-12);
};
const gpu = await run(process.argv[2] ?? 'webgpu');
const cpu = await run('cpu');
let worst = rel(gpu.logits, cpu.logits);
console.log(`loss gpu ${gpu.loss.toFixed(6)} cpu ${cpu.loss.toFixed(6)}; logits rel. error ${worst.toExponential(2)}`);
for (const name of Object.keys(cpu.grads)) {
  const e = rel(gpu.grads[name], cpu.grads[name]);
  worst = Math.max(worst, e);
  if (e > TOL) console.log(`  ${name}: rel. error ${e.toExponential(2)}`);
}
console.log(worst <= TOL ? `OK: every output within ${TOL} relative` : `FAIL: worst relative error ${worst.toExponential(2)} > ${TOL}`);
process.exitCode = worst <= TOL ? 0 : 1;
