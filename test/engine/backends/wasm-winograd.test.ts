/**
 * The Winograd Conv2D of the wasm backend against the cpu backend (oracle), its fallback to the
 * original XNNPACK kernel, and a whole ResNet-20 forward with and without it.
 * tf.setBackend is global: every case computes on 'cpu' first, then on 'wasm', from the same arrays.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import {
  registerWasmWinograd,
  setWasmWinogradEnabled,
  wasmWinogradStatus,
} from '../../../src-main/engine/backends/wasm-winograd.js';
import {
  KERNELS_RELAXED_WASM,
  KERNELS_WASM,
} from '../../../src-main/engine/backends/wasm-kernels/kernels-wasm.js';
import { resolveModelConfig } from '../../../src-main/engine/defaults.js';
import { buildModel } from '../../../src-main/engine/models/index.js';
import { Rng } from '../../../src-main/engine/random.js';
import { data, on, relErr, wasmWithKernels } from './oracle.js';

/**
 * Max |a − ref| relative to max |ref|. Winograd F(2,3) only reorders fp32 sums (its transform
 * constants are ±1 and ½): measured ≤ 8e-7 on these cases (both builds); 1e-5 leaves a 10× margin.
 */
const TOL = 1e-5;

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

interface Case {
  x: [number, number, number, number];
  k: number;
  co: number;
  stride?: number;
  dilation?: number;
  pad: Pad;
}

function conv(c: Case): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor4d(data(c.x, 1), c.x);
    const w = tf.tensor4d(data([c.k, c.k, c.x[3], c.co], 2), [c.k, c.k, c.x[3], c.co]);
    return tf.conv2d(x, w, c.stride ?? 1, c.pad, 'NHWC', c.dilation ?? 1).dataSync() as Float32Array;
  });
}

const label = (c: Case) =>
  `x ${c.x.join('×')}, ${c.k}×${c.k}→${c.co}, stride ${c.stride ?? 1}, dilation ${c.dilation ?? 1}, pad ${JSON.stringify(c.pad)}`;

/** 3×3, stride 1, channels multiples of 4: the Winograd kernel. */
const supported: Case[] = [
  { x: [2, 32, 32, 16], k: 3, co: 16, pad: 'same' }, // ResNet-20 stage 1
  { x: [2, 16, 16, 32], k: 3, co: 32, pad: 'same' }, // stage 2
  { x: [2, 8, 8, 64], k: 3, co: 64, pad: 'same' }, // stage 3
  { x: [1, 7, 9, 8], k: 3, co: 12, pad: 'same' }, // odd sizes: tiles overhang; 8 + 4 output columns
  { x: [3, 5, 5, 4], k: 3, co: 4, pad: 'same' },
  { x: [2, 9, 7, 20], k: 3, co: 24, pad: 'valid' }, // cin not 16/32/64; 16 + 8 output columns
  { x: [1, 1, 1, 4], k: 3, co: 4, pad: 'same' },
  { x: [2, 2, 3, 4], k: 3, co: 8, pad: 'same' },
  { x: [1, 3, 3, 4], k: 3, co: 4, pad: 'valid' }, // a single output pixel
  {
    x: [2, 6, 5, 8],
    k: 3,
    co: 8,
    pad: [
      [0, 0],
      [2, 0],
      [0, 3],
      [0, 0],
    ],
  },
  { x: [5, 6, 6, 48], k: 3, co: 36, pad: 'same' }, // batch of tiles not a multiple of the block
];

/** Everything else goes to the original kernel. */
const fallback: Case[] = [
  { x: [2, 8, 8, 3], k: 3, co: 16, pad: 'same' }, // cin % 4 ≠ 0 (the RGB stem)
  { x: [2, 8, 8, 4], k: 3, co: 6, pad: 'same' }, // cout % 4 ≠ 0
  { x: [2, 8, 8, 16], k: 3, co: 32, stride: 2, pad: 'same' },
  { x: [2, 8, 8, 16], k: 1, co: 32, pad: 'same' },
  { x: [2, 9, 9, 8], k: 5, co: 8, pad: 'same' },
  { x: [2, 9, 9, 8], k: 3, co: 8, dilation: 2, pad: 'same' },
];

beforeAll(() => wasmWithKernels(registerWasmWinograd)); // registered twice: idempotent

describe('wasm Winograd Conv2D', () => {
  it('is registered as wasm Conv2D, with the embedded builds equal to the checked-in .wasm files', () => {
    const s = wasmWinogradStatus();
    expect(s.registered).toBe(true);
    expect(['relaxed-simd', 'simd128']).toContain(s.variant);
    const dir = new URL('../../../src-main/engine/backends/wasm-kernels/', import.meta.url);
    expect(readFileSync(new URL('kernels.wasm', dir)).toString('base64')).toBe(KERNELS_WASM);
    expect(readFileSync(new URL('kernels-relaxed.wasm', dir)).toString('base64')).toBe(KERNELS_RELAXED_WASM);
  });

  for (const c of supported) {
    it(`matches cpu: ${label(c)}`, async () => {
      const ref = await on('cpu', () => conv(c));
      const before = wasmWinogradStatus().calls;
      const got = await on('wasm', () => conv(c));
      expect(wasmWinogradStatus().calls).toBe(before + 1);
      expect(relErr(got, ref)).toBeLessThan(TOL);
    });
  }

  for (const c of fallback) {
    it(`falls back to the original kernel: ${label(c)}`, async () => {
      const ref = await on('cpu', () => conv(c));
      const before = wasmWinogradStatus();
      const got = await on('wasm', () => conv(c));
      const after = wasmWinogradStatus();
      expect(after.calls).toBe(before.calls);
      expect(after.fallbacks).toBe(before.fallbacks + 1);
      expect(relErr(got, ref)).toBeLessThan(1e-5);
    });
  }

  function filterGrad(c: Case): Float32Array {
    return tf.tidy(() => {
      const x = tf.tensor4d(data(c.x, 1), c.x);
      const w = tf.tensor4d(data([c.k, c.k, c.x[3], c.co], 2), [c.k, c.k, c.x[3], c.co]);
      const yShape = tf.conv2d(x, w, c.stride ?? 1, c.pad).shape;
      const dy = tf.tensor(data(yShape, 3), yShape);
      const f = (ww: tf.Tensor) =>
        tf
          .conv2d(x, ww as tf.Tensor4D, c.stride ?? 1, c.pad)
          .mul(dy)
          .sum();
      return tf.grad(f)(w).dataSync() as Float32Array;
    });
  }

  // The cpu backend's filter gradient is slow: small cases, one spanning several tile blocks (72 tiles).
  const gradCases: Case[] = [
    ...supported.filter((c) => c.x.reduce((a, b) => a * b, 1) * c.co <= 100_000),
    { x: [2, 12, 12, 8], k: 3, co: 8, pad: 'same' },
  ];
  for (const c of gradCases) {
    it(`computes Conv2DBackpropFilter like cpu: ${label(c)}`, async () => {
      const ref = await on('cpu', () => filterGrad(c));
      const before = wasmWinogradStatus().filterGradCalls;
      const got = await on('wasm', () => filterGrad(c));
      expect(wasmWinogradStatus().filterGradCalls).toBe(before + 1);
      expect(relErr(got, ref)).toBeLessThan(TOL);
    });
  }

  for (const c of fallback.filter((f) => (f.dilation ?? 1) === 1)) {
    it(`leaves Conv2DBackpropFilter to wasm-gradients.ts: ${label(c)}`, async () => {
      const ref = await on('cpu', () => filterGrad(c));
      const before = wasmWinogradStatus();
      const got = await on('wasm', () => filterGrad(c));
      const after = wasmWinogradStatus();
      expect(after.filterGradCalls).toBe(before.filterGradCalls);
      expect(after.filterGradFallbacks).toBe(before.filterGradFallbacks + 1);
      expect(relErr(got, ref)).toBeLessThan(1e-5);
    });
  }

  it('is used by the stride-1 Conv2DBackpropInput and keeps its gradient right', async () => {
    const grads = () =>
      tf.tidy(() => {
        const x = tf.tensor4d(data([2, 8, 8, 16], 1), [2, 8, 8, 16]);
        const w = tf.tensor4d(data([3, 3, 16, 8], 2), [3, 3, 16, 8]);
        const dy = tf.tensor4d(data([2, 8, 8, 8], 3), [2, 8, 8, 8]);
        const f = (xx: tf.Tensor) =>
          tf
            .conv2d(xx as tf.Tensor4D, w, 1, 'same')
            .mul(dy)
            .sum();
        return tf.grad(f)(x).dataSync() as Float32Array;
      });
    const ref = await on('cpu', grads);
    const before = wasmWinogradStatus().calls;
    const got = await on('wasm', grads);
    expect(wasmWinogradStatus().calls).toBeGreaterThanOrEqual(before + 2); // forward + dx
    expect(relErr(got, ref)).toBeLessThan(TOL);
  });

  it('leaves no tensors or heap growth behind over repeated calls', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor4d(data([4, 16, 16, 32], 1), [4, 16, 16, 32]);
    const w = tf.tensor4d(data([3, 3, 32, 32], 2), [3, 3, 32, 32]);
    tf.conv2d(x, w, 1, 'same').dispose();
    const tensors = tf.memory().numTensors;
    const bytes = tf.memory().numBytes;
    const grad = () =>
      tf.engine().runKernel(
        tf.Conv2DBackpropFilter,
        { x, dy: x },
        {
          strides: 1,
          pad: 'same',
          dataFormat: 'NHWC',
          filterShape: [3, 3, 32, 32],
        },
      ) as tf.Tensor;
    grad().dispose();
    // Scratch is malloc'ed and freed per call (outputs too, when disposed): count the live blocks.
    const wasm = (tf.backend() as unknown as { wasm: { _malloc(n: number): number; _free(p: number): void } })
      .wasm;
    const [malloc, free] = [wasm._malloc, wasm._free];
    let live = 0;
    wasm._malloc = (n) => (live++, malloc(n));
    wasm._free = (p) => (live--, free(p));
    try {
      for (let i = 0; i < 20; i++) {
        tf.conv2d(x, w, 1, 'same').dispose();
        grad().dispose();
      }
    } finally {
      [wasm._malloc, wasm._free] = [malloc, free];
    }
    expect(live).toBe(0);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.memory().numBytes).toBe(bytes);
    tf.dispose([x, w]);
  });

  it('gives ResNet-20 (K = 4) the same forward pass as the original kernel', async () => {
    await tf.setBackend('wasm');
    const cifar = { size: 32, channels: 3 as const, count: 50_000, numClasses: 10 };
    const m = buildModel(resolveModelConfig(cifar, { arch: 'resnet20', members: 4 }), new Rng(1));
    const x = tf.tensor4d(data([8, 32, 32, 3], 7), [8, 32, 32, 3]);
    const run = () =>
      tf.tidy(() => {
        const r = m.forward(x, { training: false, rng: new Rng(3) });
        return { logits: r.logits.dataSync().slice(), features: r.features.dataSync().slice() };
      });
    const before = wasmWinogradStatus().calls;
    const wino = run();
    expect(wasmWinogradStatus().calls - before).toBe(16); // the 3×3 stride-1 convs of ResNet-20
    setWasmWinogradEnabled(false);
    let stock: ReturnType<typeof run>;
    try {
      stock = run();
    } finally {
      setWasmWinogradEnabled(true);
    }
    expect(relErr(wino.logits, stock.logits)).toBeLessThan(1e-4);
    expect(relErr(wino.features, stock.features)).toBeLessThan(1e-4);
    const argmax = (l: ArrayLike<number>) =>
      Array.from({ length: 8 }, (_, i) => {
        const row = Array.from(l).slice(i * 10, i * 10 + 10);
        return row.indexOf(Math.max(...row));
      });
    expect(argmax(wino.logits)).toEqual(argmax(stock.logits));
    tf.dispose(x);
    m.dispose();
  }, 60_000);
});
