/**
 * Gradient kernels that @tensorflow/tfjs-backend-wasm 4.22 lacks (or runs slowly), written with ops the
 * wasm backend does have (XNNPACK conv2d / batchMatMul), registered for backend 'wasm'.
 *
 * - Conv2DBackpropFilter: dW = conv2d(x_padᵀ, dyᵀ, dilation s) with the native conv2d, transposed back.
 * - Conv2DBackpropInput: dx = conv2d(pad(dy), flip(W)ᵀ, 1, 'valid') with the native conv2d (one sub-filter
 *   conv per stride phase when strided); replaces the stock wasm kernel, a naive loop ~8× slower.
 * - UnsortedSegmentSum: scatter-add in JS (needed by the gradient of gather).
 * - DepthwiseConv2dNativeBackpropFilter/Input: direct loops in JS (./wasm-depthwise.ts).
 *
 * Kernels compute with public tf ops inside tf.tidy; the result's data is handed to the engine with an
 * extra reference so that nothing leaks (see `emit`).
 *
 * `registerWasmGradients` also registers our own wasm SIMD kernels (./wasm-kernels.ts): the Winograd
 * Conv2D and Conv2DBackpropFilter of ./wasm-winograd.ts for 3×3 stride-1 convs (the stride-1
 * Conv2DBackpropInput below runs on that Conv2D; other convs keep XNNPACK and the
 * Conv2DBackpropFilter below) and the broadcasting binary ops, Tile, Sum and Mean of
 * ./wasm-memory-bound.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { registerWasmMemoryBound } from './wasm-memory-bound.js';
import { registerWasmWinograd } from './wasm-winograd.js';
import type {
  Conv2DBackpropFilterAttrs,
  Conv2DBackpropInputAttrs,
  KernelBackend,
  KernelConfig,
  KernelFunc,
  Tensor,
  Tensor4D,
  TensorInfo,
  UnsortedSegmentSumAttrs,
} from '@tensorflow/tfjs';
import { nhwcConvInfo } from './conv-info.js';
import { depthwiseBackpropFilter, depthwiseBackpropInput } from './wasm-depthwise.js';

const BACKEND = 'wasm';

/** Wraps a kernel input as a Tensor; `owned` wrappers must be disposed (tf.tidy does it). */
function asTensor(info: TensorInfo, backend: KernelBackend): Tensor {
  if (info instanceof tf.Tensor) return info;
  backend.incRef(info.dataId);
  return tf.engine().makeTensorFromTensorInfo(info, backend);
}

/** Hands `t`'s data to the engine as a kernel output: keep one reference for the output, drop `t`. */
function emit(t: Tensor, backend: KernelBackend): TensorInfo {
  const out: TensorInfo = { dataId: t.dataId, shape: t.shape.slice(), dtype: t.dtype };
  backend.incRef(t.dataId);
  t.dispose();
  return out;
}

function strides2(s: number | [number, number]): [number, number] {
  return typeof s === 'number' ? [s, s] : s;
}

function checkNhwc(dataFormat: string, kernel: string): void {
  if (dataFormat !== 'NHWC')
    throw new Error(`${kernel} (wasm gradients): only NHWC is supported, got ${dataFormat}`);
}

function convInfo(
  xShape: number[],
  filterShape: number[],
  strides: number | [number, number],
  pad: Conv2DBackpropFilterAttrs['pad'],
  dimRoundingMode: Conv2DBackpropFilterAttrs['dimRoundingMode'],
  kernel: string,
): tf.backend_util.Conv2DInfo {
  const [sh, sw] = strides2(strides);
  if (![1, 2].includes(sh) || ![1, 2].includes(sw)) {
    throw new Error(`${kernel} (wasm gradients): strides must be 1 or 2, got [${sh}, ${sw}]`);
  }
  return nhwcConvInfo(xShape, filterShape, strides, pad, dimRoundingMode);
}

/**
 * dW [KH,KW,Ci,Co] of y = conv2d(x, W, strides, pad), given x [N,H,W,Ci] and dy [N,Ho,Wo,Co].
 * dW[kh,kw,ci,co] = Σ_{n,i,j} x_pad[n, s·i+kh, s·j+kw, ci]·dy[n,i,j,co], which is itself a conv2d:
 * input x_padᵀ [Ci,Hp,Wp,N] (batch Ci, channels N), filter dyᵀ [Ho,Wo,N,Co], dilation s, 'valid'.
 * One native (XNNPACK) conv: ~6× faster than one matmul per kernel offset (measured, N=128 32×32 16→16).
 */
export function conv2dBackpropFilterImpl(
  x: Tensor4D,
  dy: Tensor4D,
  info: tf.backend_util.Conv2DInfo,
): Tensor4D {
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  const { outHeight: ho, outWidth: wo, inHeight: h, inWidth: w, inChannels: ci, batchSize: n } = info;
  const { top, left } = info.padInfo;
  return tf.tidy(() => {
    // x_pad must span exactly (Ho-1)·s + K rows/cols: pad the front, pad or crop the back.
    const needH = (ho - 1) * sh + kh;
    const needW = (wo - 1) * sw + kw;
    const bottom = needH - (h + top);
    const right = needW - (w + left);
    let xp: Tensor4D = x;
    if (top > 0 || left > 0 || bottom > 0 || right > 0) {
      xp = xp.pad([
        [0, 0],
        [top, Math.max(0, bottom)],
        [left, Math.max(0, right)],
        [0, 0],
      ]);
    }
    if (bottom < 0 || right < 0) xp = xp.slice([0, 0, 0, 0], [n, needH, needW, ci]);
    // [N,Hp,Wp,Ci] → [Ci,Hp,Wp,N] as a 2-D transpose then one with a contiguous inner dim (~25% faster).
    const [, hp, wp] = xp.shape;
    const xt = xp
      .reshape([n, hp * wp * ci])
      .transpose()
      .reshape([hp, wp, ci, n])
      .transpose([2, 0, 1, 3]) as Tensor4D;
    const dyt = dy.transpose([1, 2, 0, 3]) as Tensor4D; // [Ho, Wo, N, Co]
    const g = tf.conv2d(xt, dyt, 1, 'valid', 'NHWC', [sh, sw]); // [Ci, KH, KW, Co]
    return g.transpose([1, 2, 0, 3]) as Tensor4D;
  });
}

/** Pads (positive) or crops (negative) rows and columns of an NHWC tensor. */
function padOrCrop(t: Tensor4D, top: number, bottom: number, left: number, right: number): Tensor4D {
  let d = t;
  if (top > 0 || bottom > 0 || left > 0 || right > 0) {
    d = d.pad([
      [0, 0],
      [Math.max(0, top), Math.max(0, bottom)],
      [Math.max(0, left), Math.max(0, right)],
      [0, 0],
    ]);
  }
  if (top < 0 || bottom < 0 || left < 0 || right < 0) {
    const [n, hh, ww, c] = d.shape;
    const [t0, l0] = [Math.max(0, -top), Math.max(0, -left)];
    d = d.slice([0, t0, l0, 0], [n, hh - t0 - Math.max(0, -bottom), ww - l0 - Math.max(0, -right), c]);
  }
  return d;
}

/**
 * dx [N,H,W,Ci] of y = conv2d(x, W, strides, pad), given dy [N,Ho,Wo,Co] and W [KH,KW,Ci,Co].
 * Stride 1: dx = conv2d(pad(dy), flip(W)ᵀ, 1, 'valid'). Stride s > 1: the rows h with (h+top) mod s = r
 * only see taps k = r, r+s, …, so each of the s_h·s_w phases is a stride-1 conv of dy with a sub-filter;
 * the phases are interleaved. Same flops as the forward conv (dilating dy with zeros would cost s²×).
 */
export function conv2dBackpropInputImpl(
  dy: Tensor4D,
  filter: Tensor4D,
  info: tf.backend_util.Conv2DInfo,
): Tensor4D {
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  const { outHeight: ho, outWidth: wo, inHeight: h, inWidth: w, inChannels: ci, batchSize: n } = info;
  const { top, left } = info.padInfo;
  return tf.tidy(() => {
    if (sh === 1 && sw === 1) {
      // Correlating with the flipped filter needs KH-1-top rows in front and H+KH-1 rows in all.
      const ft = kh - 1 - top;
      const fl = kw - 1 - left;
      const [fb, fr] = [h + kh - 1 - ft - ho, w + kw - 1 - fl - wo];
      const wf = filter.reverse([0, 1]).transpose([0, 1, 3, 2]) as Tensor4D;
      // When those pads are what 'same' would use, let the conv pad (no copy of dy).
      const sameH = ft === Math.floor((kh - 1) / 2) && fb === kh - 1 - ft && h === ho;
      const sameW = fl === Math.floor((kw - 1) / 2) && fr === kw - 1 - fl && w === wo;
      if (sameH && sameW) return tf.conv2d(dy, wf, 1, 'same');
      return tf.conv2d(padOrCrop(dy, ft, fb, fl, fr), wf, 1, 'valid');
    }
    // Phase (rh, rw) computes dx at rows s·q + rh − top for q < qh (and likewise for columns).
    const qh = Math.ceil((h + top) / sh);
    const qw = Math.ceil((w + left) / sw);
    const rows: Tensor4D[] = [];
    for (let rh = 0; rh < sh; rh++) {
      const cols: Tensor4D[] = [];
      for (let rw = 0; rw < sw; rw++) {
        const mh = Math.ceil((kh - rh) / sh); // taps rh, rh+s, … < KH
        const mw = Math.ceil((kw - rw) / sw);
        if (mh <= 0 || mw <= 0) {
          cols.push(tf.zeros([n, qh, qw, ci]));
          continue;
        }
        const sub = filter.stridedSlice([rh, rw, 0, 0], filter.shape, [sh, sw, 1, 1]) as Tensor4D;
        const subFlipped = sub.reverse([0, 1]).transpose([0, 1, 3, 2]) as Tensor4D; // [mh, mw, Co, Ci]
        // out[q] = Σ_m dy[q − m]·W[r + s·m]: dy needs mh−1 rows in front and qh + mh − 1 in all.
        const d = padOrCrop(dy, mh - 1, qh - ho, mw - 1, qw - wo);
        cols.push(tf.conv2d(d, subFlipped, 1, 'valid'));
      }
      rows.push(tf.stack(cols, 3) as Tensor4D); // [N, qh, qw, sw, Ci]
    }
    const dx = tf.stack(rows, 2).reshape([n, qh * sh, qw * sw, ci]); // [N, qh, sh, qw, sw, Ci] interleaved
    // Usually exact (e.g. 'same', even size: top = 0, qh·s = H); wasm's Slice is slow, skip it then.
    if (top === 0 && left === 0 && qh * sh === h && qw * sw === w) return dx as Tensor4D;
    return dx.slice([0, top, left, 0], [n, h, w, ci]) as Tensor4D;
  });
}

const conv2dBackpropFilter: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = b as KernelBackend;
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } =
    attrs as unknown as Conv2DBackpropFilterAttrs;
  checkNhwc(dataFormat, 'Conv2DBackpropFilter');
  const info = convInfo(x.shape, filterShape, strides, pad, dimRoundingMode, 'Conv2DBackpropFilter');
  const out = tf.tidy(() =>
    conv2dBackpropFilterImpl(asTensor(x, backend) as Tensor4D, asTensor(dy, backend) as Tensor4D, info),
  );
  return emit(out, backend);
};

const conv2dBackpropInput: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = b as KernelBackend;
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } =
    attrs as unknown as Conv2DBackpropInputAttrs;
  checkNhwc(dataFormat, 'Conv2DBackpropInput');
  const info = convInfo(inputShape, filter.shape, strides, pad, dimRoundingMode, 'Conv2DBackpropInput');
  const out = tf.tidy(() =>
    conv2dBackpropInputImpl(asTensor(dy, backend) as Tensor4D, asTensor(filter, backend) as Tensor4D, info),
  );
  return emit(out, backend);
};

const unsortedSegmentSum: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = b as KernelBackend;
  const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const { numSegments } = attrs as unknown as UnsortedSegmentSumAttrs;
  const idRank = segmentIds.shape.length;
  const n = segmentIds.shape.reduce((a, b) => a * b, 1);
  const inner = x.shape.slice(idRank);
  const d = inner.reduce((a, b) => a * b, 1);
  const xv = backend.readSync(x.dataId) as Float32Array | Int32Array;
  const ids = backend.readSync(segmentIds.dataId) as Int32Array;
  const out = x.dtype === 'int32' ? new Int32Array(numSegments * d) : new Float32Array(numSegments * d);
  for (let r = 0; r < n; r++) {
    const s = ids[r];
    if (s < 0 || s >= numSegments) continue; // TF drops out-of-range ids
    const o = s * d;
    const src = r * d;
    for (let k = 0; k < d; k++) out[o + k] += xv[src + k];
  }
  const shape = [numSegments, ...inner];
  return { dataId: backend.write(out, shape, x.dtype), shape, dtype: x.dtype };
};

/** Kernel configs added for 'wasm' (exported for tests and the README's list). */
export const wasmGradientKernels: KernelConfig[] = [
  { kernelName: tf.Conv2DBackpropFilter, backendName: BACKEND, kernelFunc: conv2dBackpropFilter },
  { kernelName: tf.Conv2DBackpropInput, backendName: BACKEND, kernelFunc: conv2dBackpropInput },
  { kernelName: tf.UnsortedSegmentSum, backendName: BACKEND, kernelFunc: unsortedSegmentSum },
  // Fine-tuned MobileNet blocks (wasm-depthwise.ts).
  {
    kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
    backendName: BACKEND,
    kernelFunc: depthwiseBackpropFilter,
  },
  {
    kernelName: tf.DepthwiseConv2dNativeBackpropInput,
    backendName: BACKEND,
    kernelFunc: depthwiseBackpropInput,
  },
];

let registered = false;

/**
 * Registers the kernels above for 'wasm' (idempotent), then those of wasm-winograd.ts and
 * wasm-memory-bound.ts. Replaces a stock kernel of the same name silently (unregister first:
 * registerKernel would warn).
 */
export function registerWasmGradients(): string[] {
  if (!registered) {
    for (const k of wasmGradientKernels) {
      if (tf.getKernel(k.kernelName, BACKEND) !== undefined) tf.unregisterKernel(k.kernelName, BACKEND);
      tf.registerKernel(k);
    }
    registered = true;
  }
  // After the kernels above: the Winograd Conv2DBackpropFilter falls back to this file's.
  registerWasmWinograd();
  registerWasmMemoryBound();
  return wasmGradientKernels.map((k) => k.kernelName);
}
