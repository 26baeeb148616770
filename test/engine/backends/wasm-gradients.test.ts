/**
 * The wasm gradient kernels against the cpu backend (oracle). tf.setBackend is global: every case
 * computes on 'cpu' first, then on 'wasm', from the same plain arrays.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import {
  registerWasmGradients,
  wasmGradientKernels,
} from '../../../src-main/engine/backends/wasm-gradients.js';
import { data, on, relErr as relErrTo, wasmWithKernels } from './oracle.js';

/** Max |a-b| relative to max(1, max|ref|); 1e-4 leaves room for fp32 summation order over ≤ 10⁴ terms. */
const TOL = 1e-4;

const relErr = (a: ArrayLike<number>, ref: ArrayLike<number>) => relErrTo(a, ref, 1);

interface ConvCase {
  x: [number, number, number, number];
  k: number;
  co: number;
  stride: number | [number, number];
  pad: 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
}

const cases: ConvCase[] = [
  { x: [2, 8, 8, 3], k: 3, co: 16, stride: 1, pad: 'same' },
  { x: [2, 8, 8, 16], k: 3, co: 16, stride: 2, pad: 'same' },
  { x: [3, 9, 9, 16], k: 3, co: 1, stride: 2, pad: 'same' },
  { x: [2, 8, 8, 16], k: 1, co: 16, stride: 2, pad: 'same' },
  { x: [1, 9, 7, 3], k: 1, co: 3, stride: 2, pad: 'valid' },
  { x: [2, 7, 9, 1], k: 3, co: 3, stride: 1, pad: 'valid' },
  { x: [2, 11, 11, 3], k: 3, co: 16, stride: 2, pad: 'valid' },
  { x: [4, 5, 5, 16], k: 3, co: 16, stride: 1, pad: 'same' },
  {
    x: [2, 6, 6, 3],
    k: 3,
    co: 4,
    stride: 2,
    pad: [
      [0, 0],
      [1, 2],
      [0, 1],
      [0, 0],
    ],
  },
  { x: [1, 10, 10, 1], k: 5, co: 1, stride: 1, pad: 'same' },
  { x: [2, 11, 9, 3], k: 5, co: 3, stride: 2, pad: 'same' },
  { x: [2, 8, 8, 3], k: 4, co: 5, stride: 2, pad: 'valid' },
  { x: [2, 8, 8, 3], k: 3, co: 2, stride: 2, pad: 'valid' }, // last row unused: x is cropped
  { x: [2, 7, 8, 3], k: 3, co: 4, stride: [1, 2], pad: 'same' },
];

function convGrads(c: ConvCase): { dx: Float32Array; dw: Float32Array } {
  return tf.tidy(() => {
    const x = tf.tensor4d(data(c.x, 1), c.x);
    const w = tf.tensor4d(data([c.k, c.k, c.x[3], c.co], 2), [c.k, c.k, c.x[3], c.co]);
    const yShape = tf.conv2d(x, w, c.stride, c.pad).shape;
    const dy = tf.tensor(data(yShape, 3), yShape);
    const g = tf.grads((xx: tf.Tensor, ww: tf.Tensor) =>
      tf
        .conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, c.stride, c.pad)
        .mul(dy)
        .sum(),
    );
    const [dx, dw] = g([x, w]);
    return { dx: dx.dataSync() as Float32Array, dw: dw.dataSync() as Float32Array };
  });
}

beforeAll(() => wasmWithKernels(registerWasmGradients)); // registered twice: idempotent

describe('wasm conv2d gradients vs cpu', () => {
  it('registers the conv, depthwise conv and UnsortedSegmentSum gradient kernels for wasm', () => {
    for (const k of wasmGradientKernels) expect(tf.getKernel(k.kernelName, 'wasm')).toBeDefined();
    expect(wasmGradientKernels.map((k) => k.kernelName).sort()).toEqual(
      [
        'Conv2DBackpropFilter',
        'Conv2DBackpropInput',
        'UnsortedSegmentSum',
        'DepthwiseConv2dNativeBackpropFilter',
        'DepthwiseConv2dNativeBackpropInput',
      ].sort(),
    );
  });

  for (const c of cases) {
    const label = `x ${c.x.join('×')}, ${c.k}×${c.k}→${c.co}, stride ${c.stride}, pad ${JSON.stringify(c.pad)}`;
    it(label, async () => {
      const ref = await on('cpu', () => convGrads(c));
      const got = await on('wasm', () => convGrads(c));
      expect(relErr(got.dw, ref.dw)).toBeLessThan(TOL);
      expect(relErr(got.dx, ref.dx)).toBeLessThan(TOL);
    });
  }

  it('rejects stride 3 with a clear error', async () => {
    await tf.setBackend('wasm');
    const x = tf.zeros([1, 9, 9, 1]) as tf.Tensor4D;
    const w = tf.zeros([3, 3, 1, 1]) as tf.Tensor4D;
    expect(() => tf.grad((ww: tf.Tensor) => tf.conv2d(x, ww as tf.Tensor4D, 3, 'same').sum())(w)).toThrow(
      /strides must be 1 or 2/,
    );
    tf.dispose([x, w]);
  });
});

describe('wasm depthwise conv gradients vs cpu (fine-tuned MobileNet blocks)', () => {
  const dwCases: {
    x: [number, number, number, number];
    k: number;
    m: number;
    stride: number;
    pad: 'same' | 'valid';
  }[] = [
    { x: [4, 7, 7, 16], k: 3, m: 1, stride: 1, pad: 'same' },
    { x: [3, 14, 14, 8], k: 3, m: 1, stride: 2, pad: 'same' },
    { x: [2, 9, 9, 4], k: 3, m: 2, stride: 2, pad: 'valid' },
    { x: [2, 8, 8, 3], k: 5, m: 1, stride: 1, pad: 'same' },
  ];
  for (const c of dwCases)
    it(`x ${c.x.join('×')}, ${c.k}×${c.k}×${c.m}, stride ${c.stride}, ${c.pad}`, async () => {
      const run = () =>
        tf.tidy(() => {
          const x = tf.tensor4d(data(c.x, 1), c.x);
          const w = tf.tensor4d(data([c.k, c.k, c.x[3], c.m], 2), [c.k, c.k, c.x[3], c.m]);
          const yShape = tf.depthwiseConv2d(x, w, c.stride, c.pad).shape;
          const dy = tf.tensor(data(yShape, 3), yShape);
          const [dx, dw] = tf.grads((xx: tf.Tensor, ww: tf.Tensor) =>
            tf
              .depthwiseConv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, c.stride, c.pad)
              .mul(dy)
              .sum(),
          )([x, w]);
          return { dx: dx!.dataSync() as Float32Array, dw: dw!.dataSync() as Float32Array };
        });
      const ref = await on('cpu', run);
      const got = await on('wasm', run);
      expect(relErr(got.dw, ref.dw)).toBeLessThan(TOL);
      expect(relErr(got.dx, ref.dx)).toBeLessThan(TOL);
    });
});

describe('UnsortedSegmentSum on wasm (gather gradient)', () => {
  it('matches cpu for gather along axis 0 with repeated and unused indices', async () => {
    const run = () =>
      tf.tidy(() => {
        const table = tf.tensor2d(data([5, 7], 4), [5, 7]);
        const idx = tf.tensor1d([0, 3, 3, 1, 0, 0, 4], 'int32');
        const w = tf.tensor2d(data([7, 7], 5), [7, 7]);
        return tf
          .grad((t: tf.Tensor) => tf.gather(t, idx).mul(w).sum())(table)
          .dataSync();
      });
    const ref = await on('cpu', run);
    const got = await on('wasm', run);
    expect(relErr(got, ref)).toBeLessThan(1e-6);
  });
});

// ------------------------------------------------------------------------------------- small ResNet-ish net

const K = 2; // members
const B = 3; // images
const NUM_CLASSES = 5;

function params(): Record<string, tf.Variable> {
  const shapes: Record<string, number[]> = {
    w1: [3, 3, 3, 8],
    r1: [K, 3], // rank-1 input factor per member, gathered by member index
    s1: [K, 8], // rank-1 output factor
    w2: [3, 3, 8, 8],
    w3: [3, 3, 8, 16],
    wsc: [1, 1, 8, 16],
    gamma: [16],
    beta: [16],
    dense: [16, NUM_CLASSES],
    bias: [NUM_CLASSES],
    rho: [K, 8],
  };
  let seed = 10;
  const out: Record<string, tf.Variable> = {};
  for (const [name, shape] of Object.entries(shapes)) {
    const init = tf.tensor(data(shape, seed++), shape);
    out[name] = tf.variable(init, true, name);
    init.dispose();
  }
  return out;
}

function batchNorm(h: tf.Tensor4D, gamma?: tf.Tensor, beta?: tf.Tensor): tf.Tensor4D {
  const { mean, variance } = tf.moments(h, [0, 1, 2]);
  let y = h.sub(mean).mul(tf.rsqrt(variance.add(1e-5)));
  if (gamma && beta) y = y.mul(gamma).add(beta);
  return y as tf.Tensor4D;
}

function lossFn(
  p: Record<string, tf.Variable>,
  x: tf.Tensor4D,
  labels: tf.Tensor1D,
  u: tf.Tensor,
): tf.Scalar {
  const members = tf.tensor1d(
    Array.from({ length: K * B }, (_, i) => Math.floor(i / B)),
    'int32',
  );
  const xt = tf.tile(x, [K, 1, 1, 1]) as tf.Tensor4D; // [KB, 9, 9, 3]
  const r = tf.gather(p.r1, members).reshape([K * B, 1, 1, 3]);
  // Cauchy-perturbed output factor: s·(1 + 0.01·σ·tan(π(u−½))), σ = softplus(ρ)
  const sigma = tf.softplus(tf.gather(p.rho, members));
  const cauchy = tf
    .tan(
      tf
        .clipByValue(u, 1e-3, 1 - 1e-3)
        .sub(0.5)
        .mul(Math.PI),
    )
    .mul(sigma);
  const s = tf
    .gather(p.s1, members)
    .mul(cauchy.mul(0.01).add(1))
    .reshape([K * B, 1, 1, 8]);
  let h = tf.conv2d(xt.mul(r) as tf.Tensor4D, p.w1 as tf.Tensor4D, 1, 'same').mul(s) as tf.Tensor4D;
  h = tf.relu(batchNorm(h));
  const a = tf.relu(batchNorm(tf.conv2d(h, p.w2 as tf.Tensor4D, 1, 'same')));
  const b = batchNorm(tf.conv2d(a, p.w3 as tf.Tensor4D, 2, 'same'), p.gamma, p.beta); // [KB, 5, 5, 16]
  const sc = tf.conv2d(h, p.wsc as tf.Tensor4D, 2, 'same');
  const h2 = tf.relu(b.add(sc)) as tf.Tensor4D;
  const pooled = tf.maxPool(tf.avgPool(h2, 2, 1, 'valid'), 3, 2, 'same'); // [KB, 2, 2, 16]
  const padded = tf.pad(pooled, [
    [0, 0],
    [1, 0],
    [0, 1],
    [0, 0],
  ]);
  const cropped = tf.reverse(tf.slice(padded, [0, 0, 1, 0], [-1, 2, 2, -1]), 2);
  const feat = tf.mean(cropped, [1, 2]) as tf.Tensor2D;
  const logits = tf.matMul(feat, p.dense).add(p.bias);
  const logp = tf.logSoftmax(logits);
  const nll = tf.neg(tf.sum(logp.mul(tf.oneHot(tf.tile(labels, [K]), NUM_CLASSES)))).div(K * B);
  const penalty = tf
    .mean(tf.log1p(cauchy.square()))
    .mul(1e-3)
    .add(tf.mean(tf.log(sigma)).mul(1e-3));
  return nll.add(penalty) as tf.Scalar;
}

function netGrads(): { loss: number; grads: Record<string, Float32Array> } {
  const p = params();
  try {
    return tf.tidy(() => {
      const x = tf.tensor4d(data([B, 9, 9, 3], 99), [B, 9, 9, 3]);
      const labels = tf.tensor1d([0, 3, 4], 'int32');
      const u = tf.tensor(data([K * B, 8], 7), [K * B, 8]).add(0.5);
      const { value, grads } = tf.variableGrads(() => lossFn(p, x, labels, u));
      const out: Record<string, Float32Array> = {};
      for (const [k, g] of Object.entries(grads)) out[k] = g.dataSync() as Float32Array;
      return { loss: value.dataSync()[0], grads: out };
    });
  } finally {
    tf.dispose(Object.values(p));
  }
}

describe('small ResNet-style net: forward + backward on wasm vs cpu', () => {
  it('every variable gradient matches cpu', async () => {
    const ref = await on('cpu', netGrads);
    const got = await on('wasm', netGrads);
    expect(Math.abs(got.loss - ref.loss)).toBeLessThan(1e-4 * Math.max(1, Math.abs(ref.loss)));
    expect(Object.keys(got.grads).sort()).toEqual(Object.keys(ref.grads).sort());
    expect(Object.keys(ref.grads)).toHaveLength(11);
    for (const k of Object.keys(ref.grads)) {
      const e = relErr(got.grads[k], ref.grads[k]);
      expect(e, `${k}: rel err ${e}`).toBeLessThan(TOL);
    }
  });

  it('leaks no tensors or bytes over repeated steps', async () => {
    await tf.setBackend('wasm');
    netGrads(); // warm-up (lazy kernel setup)
    const before = tf.memory();
    const idsBefore = tf.backend().numDataIds();
    for (let i = 0; i < 5; i++) netGrads();
    for (const c of cases.slice(0, 4)) convGrads(c);
    const after = tf.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
    expect(after.numDataBuffers).toBe(before.numDataBuffers);
    expect(tf.backend().numDataIds()).toBe(idsBefore); // wasm heap buffers
  });
});
