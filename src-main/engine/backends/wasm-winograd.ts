/**
 * Winograd F(2×2, 3×3) Conv2D and Conv2DBackpropFilter for the wasm backend
 * (./wasm-kernels/winograd.c, loaded by ./wasm-kernels.ts). Forward: a 3×3, stride-1 convolution
 * with 16 instead of 36 multiply-adds per 2×2 output tile, input and output channel, ≈ 2–3× faster
 * than the stock XNNPACK kernel on this project's shapes (docs/cpu-speed.md). Filter gradient: the
 * same tiles, dW = Gᵀ [Σ_tiles (A dy Aᵀ) ⊙ (Bᵀ x B)] G (16 GEMMs over all tiles), instead of the
 * transposes + large-filter XNNPACK conv of wasm-gradients.ts. The kernels read their inputs in the
 * tfjs heap and write the output tensor in place; transformed filters and tile buffers are malloc'ed
 * per call.
 *
 * Registered for 'wasm' by `registerWasmGradients` (in-process and in the parallel workers): float32
 * NHWC 3×3 filters with stride 1, dilation 1 and channel counts that are multiples of 4 take this
 * path; everything else calls the kernel registered before (XNNPACK's Conv2D, wasm-gradients.ts'
 * Conv2DBackpropFilter). Conv2DBackpropInput of such a conv (a stride-1 3×3 conv of dy, see
 * wasm-gradients.ts) takes the Winograd Conv2D too.
 *
 * Numerics: the transforms use only ±1 and ½ (exact in binary), the error is that of the reordered
 * fp32 sums: ≤ 1e-6 of max|y| for the forward, measured against the cpu backend (tests allow 1e-5).
 *
 * RANK1_WASM_WINOGRAD=0 turns them off (the previous kernels run).
 */
import * as tf from '@tensorflow/tfjs';
import type {
  Conv2DAttrs,
  Conv2DBackpropFilterAttrs,
  KernelConfig,
  KernelFunc,
  TensorInfo,
} from '@tensorflow/tfjs';
import {
  compileKernels,
  heapOffset,
  kernelsFor,
  overrideWasmKernel,
  wasmKernelsInfo,
  type WasmBackendLike,
} from './wasm-kernels.js';
import { nhwcConvInfo } from './conv-info.js';

const BACKEND = 'wasm';
/** Tiles per block: V [16][tb][cin] and M [16][tb][cout] stay in L1/L2 (tb = 16…64 measured equal). */
const TILE_BLOCK = 32;

export interface WinogradStatus {
  /** The Winograd kernels are registered as wasm's Conv2D and Conv2DBackpropFilter. */
  registered: boolean;
  /** Build in use ('relaxed-simd' | 'simd128'; null: none could be compiled). */
  variant: string | null;
  /** Why it is not registered or cannot run, if so. */
  reason?: string;
  /** Conv2D calls computed by the Winograd kernel / handed to the original kernel. */
  calls: number;
  fallbacks: number;
  /** The same for Conv2DBackpropFilter. */
  filterGradCalls: number;
  filterGradFallbacks: number;
}

const status = {
  registered: false,
  reason: undefined as string | undefined,
  calls: 0,
  fallbacks: 0,
  filterGradCalls: 0,
  filterGradFallbacks: 0,
};
const originals = new Map<string, KernelConfig>();
let enabled = true;

type Shape4 = [number, number, number, number];

/** The conv geometry when these kernels support it (x, filter: float32), else null. */
function plan(
  xShape: number[],
  filterShape: number[],
  strides: Conv2DAttrs['strides'],
  dilations: Conv2DAttrs['dilations'],
  pad: Conv2DAttrs['pad'],
  dimRoundingMode: Conv2DAttrs['dimRoundingMode'],
  dataFormat: string,
): tf.backend_util.Conv2DInfo | null {
  if (!enabled || dataFormat !== 'NHWC' || xShape.length !== 4 || filterShape.length !== 4) return null;
  const [kh, kw, ci, co] = filterShape as Shape4;
  if (kh !== 3 || kw !== 3 || ci % 4 !== 0 || co % 4 !== 0 || ci === 0 || co === 0) return null;
  if (xShape[3] !== ci) return null;
  const [dh, dw] = typeof dilations === 'number' ? [dilations, dilations] : dilations;
  if (dh !== 1 || dw !== 1) return null;
  const info = nhwcConvInfo(xShape, filterShape, strides, pad, dimRoundingMode);
  if (info.strideHeight !== 1 || info.strideWidth !== 1) return null;
  if (info.padInfo.top < 0 || info.padInfo.left < 0) return null;
  if (info.batchSize === 0 || info.outHeight <= 0 || info.outWidth <= 0) return null;
  if (info.inHeight === 0 || info.inWidth === 0) return null;
  return info;
}

/** Runs f with `floats` of scratch from the heap's malloc. */
function withScratch<T>(b: WasmBackendLike, floats: number, f: (ptr: number) => T): T {
  const ptr = b.wasm._malloc(floats * 4);
  try {
    return f(ptr);
  } finally {
    b.wasm._free(ptr);
  }
}

const winogradConv2d: KernelFunc = (args) => {
  const b = args.backend as unknown as WasmBackendLike;
  const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
  const a = args.attrs as unknown as Conv2DAttrs;
  const info =
    x.dtype === 'float32' && filter.dtype === 'float32'
      ? plan(x.shape, filter.shape, a.strides, a.dilations, a.pad, a.dimRoundingMode, a.dataFormat)
      : null;
  const k = info ? kernelsFor(b) : null;
  if (!info || !k) {
    status.fallbacks++;
    return originals.get(tf.Conv2D)!.kernelFunc(args);
  }
  const { inChannels: cin, outChannels: cout, batchSize: n, inHeight: h, inWidth: w } = info;
  const out = b.makeOutput(info.outShape, 'float32');
  const uFloats = 16 * cin * cout;
  withScratch(b, uFloats + k.wino_f23_scratch(TILE_BLOCK, cin, cout), (u) => {
    k.wino_f23_filter(heapOffset(b, filter), u, cin, cout);
    const { top, left } = info.padInfo;
    const [oh, ow] = [info.outHeight, info.outWidth];
    const [xPtr, yPtr] = [heapOffset(b, x), heapOffset(b, out)];
    k.wino_f23_conv(xPtr, u, yPtr, u + uFloats * 4, n, h, w, cin, cout, oh, ow, top, left, TILE_BLOCK);
  });
  status.calls++;
  return out;
};

const winogradFilterGrad: KernelFunc = (args) => {
  const b = args.backend as unknown as WasmBackendLike;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const a = args.attrs as unknown as Conv2DBackpropFilterAttrs;
  let info =
    x.dtype === 'float32' && dy.dtype === 'float32'
      ? plan(x.shape, a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode, a.dataFormat)
      : null;
  if (info && !(dy.shape.length === 4 && info.outShape.every((d, i) => d === dy.shape[i]))) info = null;
  const k = info ? kernelsFor(b) : null;
  if (!info || !k) {
    status.filterGradFallbacks++;
    return originals.get(tf.Conv2DBackpropFilter)!.kernelFunc(args);
  }
  const { inChannels: cin, outChannels: cout, batchSize: n, inHeight: h, inWidth: w } = info;
  const out = b.makeOutput(a.filterShape.slice(), 'float32');
  withScratch(b, k.wino_f23_filter_grad_scratch(TILE_BLOCK, cin, cout), (s) => {
    const { top, left } = info.padInfo;
    const [oh, ow] = [info.outHeight, info.outWidth];
    const [xPtr, dyPtr, dwPtr] = [heapOffset(b, x), heapOffset(b, dy), heapOffset(b, out)];
    k.wino_f23_filter_grad(xPtr, dyPtr, dwPtr, s, n, h, w, cin, cout, oh, ow, top, left, TILE_BLOCK);
  });
  status.filterGradCalls++;
  return out;
};

const replace = (name: string, kernelFunc: KernelFunc) => overrideWasmKernel(name, kernelFunc, originals);

/**
 * Registers the Winograd Conv2D and Conv2DBackpropFilter for 'wasm' (idempotent), keeping the
 * kernels registered before (XNNPACK's Conv2D, wasm-gradients.ts' Conv2DBackpropFilter) for the cases
 * they do not cover: call after those are registered. Returns whether the Winograd kernels are.
 */
export function registerWasmWinograd(): boolean {
  if (status.registered || originals.size > 0) return status.registered;
  if (process.env.RANK1_WASM_WINOGRAD === '0') {
    status.reason = 'RANK1_WASM_WINOGRAD=0';
    return false;
  }
  if (!tf.getKernel(tf.Conv2D, BACKEND) || !tf.getKernel(tf.Conv2DBackpropFilter, BACKEND)) {
    status.reason = 'wasm has no Conv2D or Conv2DBackpropFilter kernel to fall back to';
    return false;
  }
  if (!compileKernels()) {
    status.reason = wasmKernelsInfo().unavailable;
    return false;
  }
  replace(tf.Conv2D, winogradConv2d);
  replace(tf.Conv2DBackpropFilter, winogradFilterGrad);
  status.registered = true;
  return true;
}

/** Turns the Winograd path on or off at run time (off: every call goes to the original kernel). */
export function setWasmWinogradEnabled(on: boolean): void {
  enabled = on;
}

/** Registration, build variant and call counters (tests, benchmarks, device descriptions). */
export function wasmWinogradStatus(): WinogradStatus {
  const { variant, unavailable } = wasmKernelsInfo();
  const reason = status.reason ?? unavailable;
  return { ...status, variant, ...(reason ? { reason } : {}) };
}
