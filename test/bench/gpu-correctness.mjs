/* global process, console */
// WebGPU numerics and per-kernel profile for the GPU machine (issue 6). After `npm run build:main`:
//   node test/bench/gpu-correctness.mjs            kernels, then the whole model, webgpu vs cpu
//   node test/bench/gpu-correctness.mjs --profile  per-kernel GPU times of one train and one predict step
// Here (no GPU) the same runs on Mesa's llvmpipe with RANK1_WEBGPU_ALLOW_SOFTWARE=1 (small shapes).
// Env RANK1_WEBGPU_KERNELS=all|conv|tfjs picks which of the engine's kernels replace tfjs's.
import { performance } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../dist/main/engine/backends/index.js';
import { kernelStats, registeredKernelSet } from '../../dist/main/engine/backends/webgpu/index.js';
import { rank1Conv2d, referenceImpl, webgpuImpl } from '../../dist/main/engine/backends/webgpu/rank1-conv.js';
import { buildModel, namedVariables } from '../../dist/main/engine/models.js';
import { resolveModelConfig } from '../../dist/main/engine/defaults.js';
import { createOptimizer } from '../../dist/main/engine/optimizer.js';
import { tileMembers } from '../../dist/main/engine/inference.js';
import { makeTrainStep } from '../../dist/main/engine/train.js';
import { Rng } from '../../dist/main/engine/random.js';

const TOL = 1e-3; // whole model: relative to the largest reference magnitude (fp32, other summation order)
const KTOL = 1e-4; // one kernel
const software = process.env.RANK1_WEBGPU_ALLOW_SOFTWARE === '1';
const members = 4;

const rel = (a, b) => {
  let max = 0, diff = 0;
  for (let i = 0; i < a.length; i++) { max = Math.max(max, Math.abs(b[i])); diff = Math.max(diff, Math.abs(a[i] - b[i])); }
  return diff / Math.max(max, 1e-12);
};

/** Deterministic data, the same on both backends. */
const data = (n, seed, lo = -1, hi = 1) => {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; out[i] = lo + ((hi - lo) * s) / 2 ** 32; }
  return out;
};

// ------------------------------------------------------------------------------------------ per kernel

/** The convolutions of rank1-resnet20 (32×32 input): stem, three stages, strided and 1×1 shortcuts. */
const N = software ? 8 : 64;
const CONVS = [
  ['stem 3×3 3→16', 32, 3, 16, 3, 1],
  ['stage1 3×3 16→16', 32, 16, 16, 3, 1],
  ['stage2 3×3 s2 16→32', 32, 16, 32, 3, 2],
  ['stage2 1×1 s2 16→32', 32, 16, 32, 1, 2],
  ['stage2 3×3 32→32', 16, 32, 32, 3, 1],
  ['stage3 3×3 s2 32→64', 16, 32, 64, 3, 2],
  ['stage3 3×3 64→64', 8, 64, 64, 3, 1],
].map(([name, H, Ci, Co, k, s]) => ({ name, H: software ? Math.min(H, 8) : H, Ci, Co, k, s }));

function convTensors(c) {
  const Ho = Math.ceil(c.H / c.s);
  return {
    x: tf.tensor4d(data(N * c.H * c.H * c.Ci, 1), [N, c.H, c.H, c.Ci]),
    w: tf.tensor4d(data(c.k * c.k * c.Ci * c.Co, 2, -0.3, 0.3), [c.k, c.k, c.Ci, c.Co]),
    alpha: tf.tensor2d(data(N * c.Ci, 3, 0.5, 1.5), [N, c.Ci]),
    gamma: tf.tensor2d(data(N * c.Co, 4, -1.5, 1.5), [N, c.Co]),
    dy: tf.tensor4d(data(N * Ho * Ho * c.Co, 5), [N, Ho, Ho, c.Co]),
  };
}

async function kernelOutputs(c, backend) {
  await tf.setBackend(backend);
  const t = convTensors(c);
  const plain = tf.grads((x, w) => tf.sum(tf.mul(tf.conv2d(x, w, c.s, 'same'), t.dy)))([t.x, t.w]);
  const outs = { 'Conv2DBackpropInput': plain[0], 'Conv2DBackpropFilter': plain[1] };
  const extra = [];
  if (registeredKernelSet() === 'all') { // the rank-1 kernels exist only then
    const impl = backend === 'webgpu' ? webgpuImpl : referenceImpl;
    const args = (x, kernel, alpha, gamma) => ({ x, kernel, alpha, gamma, strides: c.s });
    const fwd = impl.fused(args(t.x, t.w, t.alpha, t.gamma));
    const r1 = tf.grads((x, w, a, g) => tf.sum(tf.mul(rank1Conv2d(impl, args(x, w, a, g)), t.dy)))([t.x, t.w, t.alpha, t.gamma]);
    Object.assign(outs, { 'Rank1Conv2D fused forward': fwd, 'rank-1 dx': r1[0], 'rank-1 dW (split-K)': r1[1], 'rank-1 dα': r1[2], 'rank-1 dγ': r1[3] });
    extra.push(fwd, ...r1);
  }
  const res = {};
  for (const [k, v] of Object.entries(outs)) res[k] = await v.data();
  tf.dispose([...Object.values(t), ...plain, ...extra]);
  return res;
}

async function checkKernels() {
  console.log(`== kernels (batch ${N} rows), webgpu vs cpu, tolerance ${KTOL} relative`);
  let worst = 0;
  for (const c of CONVS) {
    const gpu = await kernelOutputs(c, 'webgpu');
    const cpu = await kernelOutputs(c, 'cpu');
    const errs = Object.keys(cpu).map((k) => [k, rel(gpu[k], cpu[k])]);
    const w = Math.max(...errs.map((e) => e[1]));
    worst = Math.max(worst, w);
    console.log(`  ${c.name.padEnd(22)} worst ${w.toExponential(2)}${w > KTOL ? '  FAIL: ' + errs.filter((e) => e[1] > KTOL).map((e) => `${e[0]} ${e[1].toExponential(2)}`).join(', ') : ''}`);
  }
  console.log(`  kernel calls: ${JSON.stringify(kernelStats)}`);
  return worst <= KTOL;
}

// ------------------------------------------------------------------------------------------ whole model

const config = resolveModelConfig({ size: 32, channels: 3, count: 50000, numClasses: 10 }, { arch: 'resnet20', members });

async function run(backend) {
  await tf.setBackend(backend);
  const model = buildModel(config, new Rng(1));
  const rows = software ? 4 * members : 8 * members;
  const x = tf.randomNormal([rows, 32, 32, 3], 0, 1, 'float32', 5);
  const y = tf.oneHot(tf.tensor1d(Array.from({ length: rows }, (_, i) => i % 10), 'int32'), 10);
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

async function checkModel() {
  const gpu = await run('webgpu');
  const cpu = await run('cpu');
  let worst = rel(gpu.logits, cpu.logits);
  console.log(`== rank1-resnet20, ${members} members: loss gpu ${gpu.loss.toFixed(6)} cpu ${cpu.loss.toFixed(6)}; logits rel. error ${worst.toExponential(2)}`);
  let worstName = 'logits';
  for (const name of Object.keys(cpu.grads)) {
    const e = rel(gpu.grads[name], cpu.grads[name]);
    if (e > worst) { worst = e; worstName = name; }
    if (e > TOL) console.log(`  ${name}: rel. error ${e.toExponential(2)}`);
  }
  console.log(worst <= TOL ? `OK: every output within ${TOL} relative (worst ${worst.toExponential(2)}, ${worstName})` : `FAIL: worst relative error ${worst.toExponential(2)} (${worstName}) > ${TOL}`);
  return worst <= TOL;
}

// ------------------------------------------------------------------------------------------ profile

async function profile() {
  const batch = software ? 8 : 128;
  const model = buildModel(config, new Rng(0));
  const step = makeTrainStep(model, createOptimizer('sgd'), { numClasses: 10, l2: 1e-4, trainSize: 50000 });
  const x = tf.randomNormal([batch, 32, 32, 3], 0, 1, 'float32', 1);
  const labels = Int32Array.from({ length: batch }, (_, i) => i % 10);
  const predict = async () => {
    const p = tf.tidy(() => tf.softmax(model.forward(tileMembers(x, members), { training: false, rng: new Rng(1) }).logits));
    await p.data();
    p.dispose();
  };
  for (let i = 0; i < 2; i++) { await step(x, labels, 0.1, 1, new Rng(i)); await predict(); } // compile + warm up
  for (const [phase, f] of [['train step', () => step(x, labels, 0.1, 1, new Rng(9))], ['predict', predict]]) {
    const t0 = performance.now();
    const info = await tf.profile(f);
    const wall = performance.now() - t0;
    const by = new Map();
    let total = 0;
    for (const k of info.kernels) {
      const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      total += ms;
      const key = `${k.name} ${JSON.stringify(k.inputShapes?.[0] ?? [])}`;
      const e = by.get(key) ?? { ms: 0, n: 0 };
      e.ms += ms; e.n++;
      by.set(key, e);
    }
    console.log(`== profile: ${phase}, batch ${batch} × ${members} members: ${info.kernels.length} kernels, GPU ${total.toFixed(1)} ms, wall ${wall.toFixed(1)} ms (profiling adds sync)`);
    if (total === 0) console.log('  kernel times are 0: the device lacks timestamp-query; only wall time is meaningful (sorted by count)');
    const top = [...by].sort((a, b) => b[1].ms - a[1].ms || b[1].n - a[1].n).slice(0, 15);
    for (const [k, e] of top) console.log(`  ${e.ms.toFixed(2).padStart(9)} ms ${String(e.n).padStart(4)}×  ${(100 * e.ms / Math.max(total, 1e-9)).toFixed(1).padStart(5)}%  ${k}`);
  }
  model.dispose();
}

// ------------------------------------------------------------------------------------------ main

if (process.argv.includes('--profile')) process.env.RANK1_WEBGPU_UNSAFE_APIS ??= '1'; // timestamp-query
const info = await initBackend(process.argv.find((a) => !a.startsWith('-') && a !== process.argv[0] && a !== process.argv[1]) ?? 'webgpu');
console.log(`backend ${info.name} on ${info.device}; kernels: ${registeredKernelSet() ?? 'none'}`);
if (process.argv.includes('--profile')) {
  await profile();
} else {
  const k = await checkKernels();
  const m = await checkModel();
  process.exitCode = k && m ? 0 : 1;
}
