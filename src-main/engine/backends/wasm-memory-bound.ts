/**
 * Faster wasm kernels for the memory-bound ops around the convolutions (profile in docs/cpu-speed.md):
 *
 * - Add, Sub, Multiply, RealDiv (float32) where one operand is broadcast over middle dimensions:
 *   [N,H,W,C] ⊙ [N,1,1,C] (rank-1 factors), [N,H,W,C] ⊙ [C] (BatchNorm), tensor ⊙ scalar. The stock
 *   kernels take a generic index-computing path for any broadcast, ≈ 5× slower than same-shape ops;
 *   ./wasm-kernels/binary.c streams them with SIMD. One IEEE operation per element, as before:
 *   results are bit-identical. Other shapes and dtypes go to the original kernel.
 * - Tile: the stock kernel computes every element's source index (12 ms for the [16,32,32,3] → ×4
 *   member tiling, 350× a concat); here it copies contiguous blocks (any dtype but string).
 * - Sum, Mean (float32) over one run of axes, x viewed as [P, Q, R] → [P, R]: the gradients of the
 *   broadcasts above (over N,H,W or H,W of NHWC) and BatchNorm's moments. The stock kernels transpose
 *   the reduced axes innermost first (a full copy); ./wasm-kernels/reduce.c sums in one SIMD pass,
 *   with partial sums per 64 rows (a different summation order: equal within float rounding).
 *
 * Registered for 'wasm' by `registerWasmGradients`; RANK1_WASM_MEMORY_OPS=0 keeps the stock kernels.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, SumAttrs, TensorInfo, TileAttrs } from '@tensorflow/tfjs';
import {
  compileKernels,
  heapOffset,
  kernelsFor,
  overrideWasmKernel,
  type WasmBackendLike,
} from './wasm-kernels.js';

const BACKEND = 'wasm';

/** Op codes of bcast_binary (binary.c): the second of each pair has the small operand first. */
const OPS: Record<string, [number, number]> = {
  [tf.Add]: [0, 0],
  [tf.Sub]: [1, 4],
  [tf.Multiply]: [2, 2],
  [tf.RealDiv]: [3, 5],
};

export interface BroadcastPlan {
  /** a is the full operand (else b is). */
  fullIsA: boolean;
  /** The full operand viewed as [p, q, r], the small one as [p, 1, r]. */
  p: number;
  q: number;
  r: number;
}

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const same = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * How out = a ⊙ b maps onto bcast_binary, or null: one operand must have the output's shape and the
 * other broadcast over one run of dimensions (P matching, Q broadcast, R matching).
 */
export function broadcastPlan(aShape: number[], bShape: number[]): BroadcastPlan | null {
  let out: number[];
  try {
    out = tf.backend_util.assertAndGetBroadcastShape(aShape, bShape);
  } catch {
    return null;
  }
  const size = prod(out);
  let fullIsA: boolean;
  if (same(aShape, out) && prod(bShape) < size) fullIsA = true;
  else if (same(bShape, out) && prod(aShape) < size) fullIsA = false;
  else return null;
  const s = fullIsA ? bShape : aShape;
  const small = [...new Array<number>(out.length - s.length).fill(1), ...s];
  let phase = 0;
  let p = 1;
  let q = 1;
  let r = 1;
  for (let d = 0; d < out.length; d++) {
    const o = out[d]!;
    if (o === 1) continue;
    const match = small[d] === o;
    if (phase === 0 && match) p *= o;
    else if (phase <= 1 && !match) {
      phase = 1;
      q *= o;
    } else if (match) {
      phase = 2;
      r *= o;
    } else return null;
  }
  return q > 1 ? { fullIsA, p, q, r } : null;
}

/**
 * How a reduction of `shape` over `axes` maps onto reduce_middle: the reduced dimensions (ignoring
 * those of size 1) must be one run, x = [P, Q, R] with Q reduced. Null otherwise or if nothing is.
 */
export function reducePlan(shape: number[], axes: number[]): { p: number; q: number; r: number } | null {
  const rank = shape.length;
  const reduced = new Set(axes.map((a) => (a < 0 ? a + rank : a)));
  let phase = 0;
  let p = 1;
  let q = 1;
  let r = 1;
  for (let d = 0; d < rank; d++) {
    const n = shape[d]!;
    if (n === 1) continue;
    if (!reduced.has(d)) {
      if (phase === 0) p *= n;
      else {
        phase = 2;
        r *= n;
      }
    } else if (phase <= 1) {
      phase = 1;
      q *= n;
    } else return null;
  }
  return q > 1 && p * q * r > 0 ? { p, q, r } : null;
}

const originals = new Map<string, KernelConfig>();
let enabled = true;
const status = { registered: false, calls: 0, fallbacks: 0 };

function binary(name: string): KernelFunc {
  return (args) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const plan =
      enabled && a.dtype === 'float32' && b.dtype === 'float32' ? broadcastPlan(a.shape, b.shape) : null;
    const k = plan ? kernelsFor(args.backend) : null;
    if (!plan || !k) {
      status.fallbacks++;
      return originals.get(name)!.kernelFunc(args);
    }
    const backend = args.backend as unknown as WasmBackendLike;
    const [full, small] = plan.fullIsA ? [a, b] : [b, a];
    const out = backend.makeOutput(full.shape.slice(), 'float32');
    const op = OPS[name]![plan.fullIsA ? 0 : 1];
    k.bcast_binary(
      op,
      heapOffset(backend, full),
      heapOffset(backend, small),
      heapOffset(backend, out),
      plan.p,
      plan.q,
      plan.r,
    );
    status.calls++;
    return out;
  };
}

type Elements = Float32Array | Int32Array | Uint8Array;

/** dst = tile(src [shape], reps), copying the largest contiguous blocks (reps = 1 suffix). */
export function tileInto(src: Elements, dst: Elements, shape: number[], reps: number[]): void {
  let k = shape.length - 1;
  while (k >= 0 && reps[k] === 1) k--;
  if (k < 0) {
    dst.set(src);
    return;
  }
  const block = prod(shape.slice(k + 1));
  const outShape = shape.map((s, i) => s * reps[i]!);
  const stride = new Array<number>(k + 1);
  for (let i = k, st = block; i >= 0; i--) {
    stride[i] = st;
    st *= shape[i]!;
  }
  const idx = new Array<number>(k + 1).fill(0);
  const blocks = prod(outShape.slice(0, k + 1));
  for (let n = 0, d = 0; n < blocks; n++, d += block) {
    let s = 0;
    for (let i = 0; i <= k; i++) s += (idx[i]! % shape[i]!) * stride[i]!;
    if (block >= 16) dst.set(src.subarray(s, s + block), d);
    else for (let j = 0; j < block; j++) dst[d + j] = src[s + j]!;
    for (let i = k; i >= 0; i--) {
      if (++idx[i]! < outShape[i]!) break;
      idx[i] = 0;
    }
  }
}

const tile: KernelFunc = (args) => {
  const { x } = args.inputs as { x: TensorInfo };
  const { reps } = args.attrs as unknown as TileAttrs;
  if (!enabled || x.dtype === 'string' || x.dtype === 'complex64' || reps.length !== x.shape.length) {
    status.fallbacks++;
    return originals.get(tf.Tile)!.kernelFunc(args);
  }
  const backend = args.backend as unknown as WasmBackendLike & {
    typedArrayFromHeap(t: TensorInfo): Elements;
  };
  const out = backend.makeOutput(
    x.shape.map((s, i) => s * reps[i]!),
    x.dtype,
  );
  // Views taken after makeOutput: its malloc may have grown (and detached) the heap's buffer.
  if (prod(out.shape) > 0)
    tileInto(backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(out), x.shape, reps);
  status.calls++;
  return out;
};

function reduction(name: string, mean: boolean): KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as SumAttrs;
    const axes = tf.util.parseAxisParam(axis, x.shape);
    const plan = enabled && x.dtype === 'float32' ? reducePlan(x.shape, axes) : null;
    const k = plan ? kernelsFor(args.backend) : null;
    if (!plan || !k) {
      status.fallbacks++;
      return originals.get(name)!.kernelFunc(args);
    }
    const backend = args.backend as unknown as WasmBackendLike;
    const [outShape] = tf.backend_util.computeOutAndReduceShapes(x.shape, axes);
    const shape = keepDims ? tf.backend_util.expandShapeToKeepDim(outShape, axes) : outShape;
    const out = backend.makeOutput(shape, 'float32');
    const scratch = plan.r > 1 && plan.r % 16 !== 0 ? backend.wasm._malloc(plan.r * 4) : 0;
    try {
      const scale = mean ? 1 / prod(axes.map((a) => x.shape[a]!)) : 1;
      k.reduce_middle(
        heapOffset(backend, x),
        heapOffset(backend, out),
        scratch,
        plan.p,
        plan.q,
        plan.r,
        scale,
      );
    } finally {
      if (scratch) backend.wasm._free(scratch);
    }
    status.calls++;
    return out;
  };
}

const replace = (name: string, kernelFunc: KernelFunc) => overrideWasmKernel(name, kernelFunc, originals);

/** Registers the kernels above for 'wasm' (idempotent); returns whether they are registered. */
export function registerWasmMemoryBound(): boolean {
  if (status.registered || originals.size > 0) return status.registered;
  if (process.env.RANK1_WASM_MEMORY_OPS === '0') return false;
  if (!tf.getKernel(tf.Add, BACKEND) || !compileKernels()) return false;
  for (const name of Object.keys(OPS)) replace(name, binary(name));
  replace(tf.Tile, tile);
  replace(tf.Sum, reduction(tf.Sum, false));
  replace(tf.Mean, reduction(tf.Mean, true));
  status.registered = true;
  return true;
}

/** Turns these kernels on or off at run time (off: the original kernels run). */
export function setWasmMemoryBoundEnabled(on: boolean): void {
  enabled = on;
}

/** Registration and call counters (tests, benchmarks). */
export function wasmMemoryBoundStatus(): { registered: boolean; calls: number; fallbacks: number } {
  return { ...status };
}
