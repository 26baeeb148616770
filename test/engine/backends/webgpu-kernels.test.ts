/**
 * The webgpu kernels of engine/backends/webgpu: the maths on the cpu backend on every run (reference
 * implementation vs tfjs autodiff of the layer's formula, split-K planning), and the WGSL kernels on a
 * software WebGPU adapter (Mesa llvmpipe through Dawn: Vulkan lavapipe, or OpenGL ES when lavapipe is
 * too old) against the cpu backend. Without such an adapter the WGSL tests say SKIPPED and why; in CI (CI=true) they fail.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { kernelStats, registeredKernelSet } from '../../../src-main/engine/backends/webgpu/index.js';
import { pickTile, planSplitK } from '../../../src-main/engine/backends/webgpu/gemm.js';
import {
  rank1Conv2d,
  referenceImpl,
  webgpuImpl,
  type Rank1ConvArgs,
} from '../../../src-main/engine/backends/webgpu/rank1-conv.js';
import { softwareWebgpu } from './software-webgpu.js';

/** Deterministic pseudo-random data (same on every backend). */
function data(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((hi - lo) * s) / 2 ** 32;
  }
  return out;
}

/** max |a − b| / max |b|: the error relative to the reference's scale. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / Math.max(scale, 1e-30);
}

interface Case {
  name: string;
  N: number;
  H: number;
  Ci: number;
  Co: number;
  k: number;
  s: number;
  bias: boolean;
  relu: boolean;
}

const CASES: Case[] = [
  { name: '3×3 s1 16→16', N: 4, H: 8, Ci: 16, Co: 16, k: 3, s: 1, bias: false, relu: false },
  { name: '3×3 s2 16→32 bias relu', N: 4, H: 8, Ci: 16, Co: 32, k: 3, s: 2, bias: true, relu: true },
  { name: '1×1 s2 32→64', N: 2, H: 6, Ci: 32, Co: 64, k: 1, s: 2, bias: false, relu: false },
  { name: '3×3 s1 3→16 (stem), odd size', N: 2, H: 7, Ci: 3, Co: 16, k: 3, s: 1, bias: true, relu: false },
  { name: '3×3 s2 odd size 5→20', N: 4, H: 9, Ci: 5, Co: 20, k: 3, s: 2, bias: false, relu: true },
];

interface Arrays {
  x: Float32Array;
  w: Float32Array;
  alpha: Float32Array;
  gamma: Float32Array;
  bias: Float32Array;
  dy: Float32Array;
  shapes: { x: number[]; w: number[]; y: number[] };
}

function arrays(c: Case, seed = 1): Arrays {
  const Ho = Math.ceil(c.H / c.s);
  return {
    x: data(c.N * c.H * c.H * c.Ci, seed),
    w: data(c.k * c.k * c.Ci * c.Co, seed + 1, -0.5, 0.5),
    alpha: data(c.N * c.Ci, seed + 2, 0.5, 1.5),
    gamma: data(c.N * c.Co, seed + 3, -1.5, 1.5),
    bias: data(c.N * c.Co, seed + 4, -0.2, 0.2),
    dy: data(c.N * Ho * Ho * c.Co, seed + 5),
    shapes: { x: [c.N, c.H, c.H, c.Ci], w: [c.k, c.k, c.Ci, c.Co], y: [c.N, Ho, Ho, c.Co] },
  };
}

function tensors(c: Case, a: Arrays): Rank1ConvArgs & { dy: tf.Tensor4D } {
  return {
    x: tf.tensor4d(a.x, a.shapes.x as [number, number, number, number]),
    kernel: tf.tensor4d(a.w, a.shapes.w as [number, number, number, number]),
    alpha: tf.tensor2d(a.alpha, [c.N, c.Ci]),
    gamma: tf.tensor2d(a.gamma, [c.N, c.Co]),
    bias: c.bias ? tf.tensor2d(a.bias, [c.N, c.Co]) : undefined,
    strides: c.s,
    relu: c.relu,
    dy: tf.tensor4d(a.dy, a.shapes.y as [number, number, number, number]),
  };
}

/** The layer's formula written with tfjs ops, differentiated by tfjs (the ground truth). */
function autodiff(t: ReturnType<typeof tensors>): { y: tf.Tensor; grads: tf.Tensor[] } {
  const f = (x: tf.Tensor, k: tf.Tensor, a: tf.Tensor, g: tf.Tensor, b?: tf.Tensor): tf.Tensor => {
    const n = x.shape[0]!;
    let h = tf.conv2d(
      tf.mul(x, tf.reshape(a, [n, 1, 1, -1])) as tf.Tensor4D,
      k as tf.Tensor4D,
      t.strides,
      'same',
    ) as tf.Tensor;
    h = tf.mul(h, tf.reshape(g, [n, 1, 1, -1]));
    if (b) h = tf.add(h, tf.reshape(b, [n, 1, 1, -1]));
    return t.relu ? tf.relu(h) : h;
  };
  const inputs = [t.x, t.kernel, t.alpha, t.gamma, ...(t.bias ? [t.bias] : [])];
  const y = f(t.x, t.kernel, t.alpha, t.gamma, t.bias);
  const grads = tf.grads((...xs: tf.Tensor[]) =>
    tf.sum(tf.mul(f(...(xs as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor])), t.dy)),
  )(inputs);
  return { y, grads };
}

/** Forward and all gradients of the op over `impl` (training path and fused kernel path). */
function viaOp(
  t: ReturnType<typeof tensors>,
  impl = referenceImpl,
  fused = false,
): { y: tf.Tensor; grads: tf.Tensor[] } {
  const run = (...xs: tf.Tensor[]): tf.Tensor => {
    const [x, kernel, alpha, gamma, bias] = xs as [
      tf.Tensor4D,
      tf.Tensor4D,
      tf.Tensor2D,
      tf.Tensor2D,
      tf.Tensor2D,
    ];
    const a = { x, kernel, alpha, gamma, bias, strides: t.strides, relu: t.relu };
    return fused ? impl.fused(a) : rank1Conv2d(impl, a);
  };
  const inputs = [t.x, t.kernel, t.alpha, t.gamma, ...(t.bias ? [t.bias] : [])];
  const y = run(...inputs);
  const grads = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(run(...xs), t.dy)))(inputs);
  return { y, grads };
}

const GRAD_NAMES = ['dx', 'dW', 'dα', 'dγ', 'dbias'];

describe('rank-1 conv maths on the cpu backend (reference implementation)', () => {
  for (const c of CASES) {
    it(`${c.name}: forward and dx, dW, dα, dγ, dbias match tfjs autodiff`, async () => {
      await tf.setBackend('cpu');
      const t = tensors(c, arrays(c));
      const want = autodiff(t);
      const got = viaOp(t);
      expect(relErr(await got.y.data(), await want.y.data())).toBeLessThan(1e-5);
      for (let i = 0; i < want.grads.length; i++) {
        const e = relErr(await got.grads[i]!.data(), await want.grads[i]!.data());
        expect(e, GRAD_NAMES[i]).toBeLessThan(1e-5);
      }
    });
  }

  it('split-K plans cover K exactly once, with enough workgroups', () => {
    for (const [M, N, K] of [
      [144, 16, 512 * 32 * 32],
      [27, 16, 8 * 32 * 32],
      [576, 64, 128 * 8 * 8],
      [9, 3, 40],
    ] as const) {
      const tile = pickTile(N);
      const { splits, kChunk } = planSplitK(M, N, K, tile, 1024);
      expect(kChunk % tile.TK).toBe(0);
      expect(splits * kChunk).toBeGreaterThanOrEqual(K);
      expect((splits - 1) * kChunk).toBeLessThan(K);
      const groups = splits * Math.ceil(M / tile.TM) * Math.ceil(N / tile.TN);
      if (K >= 1024 * 8 * tile.TK) expect(groups).toBeGreaterThanOrEqual(1024);
    }
    expect(planSplitK(144, 16, 100, pickTile(16)).splits).toBe(1);
  });
});

// ------------------------------------------------------------------------------ WGSL on a software GPU

const gpu = await softwareWebgpu('webgpu kernels');
const device = gpu.device;
const skip = gpu.skip;

/** Runs `f` on webgpu and on cpu with the same inputs; returns both outputs as arrays. */
async function onBoth(
  f: (t: ReturnType<typeof tensors>, backend: 'webgpu' | 'cpu') => tf.Tensor[],
  c: Case,
): Promise<{ gpu: Float32Array[]; cpu: Float32Array[] }> {
  const a = arrays(c);
  const out: Record<string, Float32Array[]> = {};
  for (const backend of ['webgpu', 'cpu'] as const) {
    await tf.setBackend(backend);
    const ts = f(tensors(c, a), backend);
    out[backend] = await Promise.all(ts.map(async (t) => (await t.data()) as Float32Array));
  }
  await tf.setBackend('cpu');
  return { gpu: out.webgpu!, cpu: out.cpu! };
}

/** fp32 with different summation orders: 1e-4 of the output's scale. */
const TOL = 1e-4;

/** Worst relative error seen per output, printed at the end (docs/gpu.md quotes it). */
const worst = new Map<string, number>();
function check(gpu: Float32Array, cpu: Float32Array, what: string): void {
  const e = relErr(gpu, cpu);
  worst.set(what, Math.max(worst.get(what) ?? 0, e));
  expect(e, what).toBeLessThan(TOL);
}

describe('WGSL kernels on a software WebGPU adapter vs the cpu backend', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
    if (worst.size)
      console.log(
        `[webgpu kernels] worst relative error vs cpu on ${device}:\n` +
          [...worst].map(([k, v]) => `  ${k}: ${v.toExponential(2)}`).join('\n'),
      );
  });

  it.skipIf(skip)('has a software WebGPU adapter (required in CI)', () => gpu.expectAdapter());

  it.skipIf(skip)('registered the implicit-GEMM and rank-1 kernels', () => {
    expect(registeredKernelSet()).toBe('all');
    expect(tf.getKernel('Rank1Conv2D', 'webgpu')).toBeDefined();
  });

  for (const c of CASES) {
    it.skipIf(skip)(
      `${c.name}: Conv2DBackpropFilter and Conv2DBackpropInput (tf.conv2d gradients)`,
      async () => {
        const before = { ...kernelStats };
        const { gpu, cpu } = await onBoth(
          (t) =>
            tf.grads((x: tf.Tensor, k: tf.Tensor) =>
              tf.sum(tf.mul(tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, c.s, 'same'), t.dy)),
            )([t.x, t.kernel]),
          c,
        );
        expect(kernelStats.filterGrad).toBe(before.filterGrad + 1);
        expect(kernelStats.inputGrad).toBe(before.inputGrad + 1);
        check(gpu[0]!, cpu[0]!, 'Conv2DBackpropInput (dx)');
        check(gpu[1]!, cpu[1]!, 'Conv2DBackpropFilter (dW)');
      },
    );

    it.skipIf(skip)(`${c.name}: fused rank-1 conv forward and backward`, async () => {
      const { gpu, cpu } = await onBoth((t, backend) => {
        const impl = backend === 'webgpu' ? webgpuImpl : referenceImpl;
        const train = viaOp(t, impl);
        const fused = viaOp(t, impl, true);
        return [train.y, ...train.grads, fused.y, ...fused.grads];
      }, c);
      const n = gpu.length / 2;
      for (let i = 0; i < gpu.length; i++) {
        const what = `${i < n ? 'training op' : 'fused kernel'} ${i % n === 0 ? 'y' : GRAD_NAMES[(i % n) - 1]}`;
        check(gpu[i]!, cpu[i]!, what);
      }
    });
  }

  it.skipIf(skip)(
    'AddN over more inputs than the device has storage-buffer bindings (the L2 term)',
    async () => {
      const parts = Array.from({ length: 67 }, (_, i) => data(5, i + 1));
      const before = kernelStats.addNChunked;
      const { gpu, cpu } = await onBoth(() => [tf.addN(parts.map((p) => tf.tensor1d(p)))], CASES[0]!);
      expect(kernelStats.addNChunked).toBe(before + 1);
      check(gpu[0]!, cpu[0]!, 'AddN (67 inputs, chunked)');
    },
  );

  it.skipIf(skip)('a large split-K filter gradient (many splits) matches', async () => {
    const c: Case = { name: 'big', N: 16, H: 16, Ci: 16, Co: 16, k: 3, s: 1, bias: false, relu: false };
    const prev = process.env.RANK1_WEBGPU_SPLITK_TARGET;
    process.env.RANK1_WEBGPU_SPLITK_TARGET = '64';
    try {
      const { gpu, cpu } = await onBoth(
        (t) => [
          tf.grad((k: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(t.x, k as tf.Tensor4D, 1, 'same'), t.dy)))(
            t.kernel,
          ),
        ],
        c,
      );
      check(gpu[0]!, cpu[0]!, 'Conv2DBackpropFilter (dW), 16×16×16×16, many splits');
    } finally {
      if (prev === undefined) delete process.env.RANK1_WEBGPU_SPLITK_TARGET;
      else process.env.RANK1_WEBGPU_SPLITK_TARGET = prev;
    }
  });
});
