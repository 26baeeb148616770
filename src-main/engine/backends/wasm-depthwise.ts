/**
 * The gradients of a depthwise convolution, which @tensorflow/tfjs-backend-wasm 4.22 lacks
 * (fine-tuned MobileNet blocks use them: engine/layers/depthwise.ts): direct loops in JS over the
 * tensors' data, NHWC, any stride and padding tfjs's conv info gives, dilation 1, channel
 * multiplier m (filter [kh, kw, C, m], output channel c·m + q). Registered for 'wasm' with the
 * other kernels of wasm-gradients.ts; checked against the cpu backend in test/engine/backends.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelBackend, KernelFunc, TensorInfo } from '@tensorflow/tfjs';

interface DepthwiseAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function geometry(xShape: number[], filterShape: number[], a: DepthwiseAttrs): tf.backend_util.Conv2DInfo {
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    a.strides,
    a.dilations ?? 1,
    a.pad,
    a.dimRoundingMode,
    true,
  );
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1)
    throw new Error('depthwise convolution gradients: dilation must be 1');
  return info;
}

const read = (backend: KernelBackend, t: TensorInfo) => backend.readSync(t.dataId) as Float32Array;

/**
 * Visits every (image, output pixel, filter tap) whose input pixel lies inside the image, with the
 * offsets of x (input channels), dy (output channels) and the filter tap.
 */
function forEachTap(
  info: tf.backend_util.Conv2DInfo,
  visit: (xOff: number, dyOff: number, wOff: number) => void,
): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { filterHeight, filterWidth, strideHeight, strideWidth, padInfo } = info;
  for (let n = 0; n < batchSize; n++)
    for (let oh = 0; oh < outHeight; oh++)
      for (let ow = 0; ow < outWidth; ow++) {
        const dyOff = ((n * outHeight + oh) * outWidth + ow) * outChannels;
        for (let i = 0; i < filterHeight; i++) {
          const ih = oh * strideHeight - padInfo.top + i;
          if (ih < 0 || ih >= inHeight) continue;
          for (let j = 0; j < filterWidth; j++) {
            const iw = ow * strideWidth - padInfo.left + j;
            if (iw < 0 || iw >= inWidth) continue;
            visit(
              ((n * inHeight + ih) * inWidth + iw) * inChannels,
              dyOff,
              (i * filterWidth + j) * outChannels,
            );
          }
        }
      }
}

/** dW[i, j, c, q] = Σ_n,oh,ow x[n, ih, iw, c] · dy[n, oh, ow, c·m + q]. */
export const depthwiseBackpropFilter: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = b as KernelBackend;
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as unknown as DepthwiseAttrs & { filterShape: [number, number, number, number] };
  const info = geometry(x.shape, a.filterShape, a);
  const C = info.inChannels;
  const m = info.outChannels / C;
  const xv = read(backend, x);
  const dyv = read(backend, dy);
  const out = new Float32Array(a.filterShape.reduce((p, d) => p * d, 1));
  forEachTap(info, (xOff, dyOff, wOff) => {
    if (m === 1) for (let c = 0; c < C; c++) out[wOff + c]! += xv[xOff + c]! * dyv[dyOff + c]!;
    else
      for (let c = 0; c < C; c++) {
        const xc = xv[xOff + c]!;
        for (let q = 0; q < m; q++) out[wOff + c * m + q]! += xc * dyv[dyOff + c * m + q]!;
      }
  });
  return { dataId: backend.write(out, a.filterShape, 'float32'), shape: a.filterShape, dtype: 'float32' };
};

/** dx[n, ih, iw, c] = Σ_oh,ow,i,j,q W[i, j, c, q] · dy[n, oh, ow, c·m + q]. */
export const depthwiseBackpropInput: KernelFunc = ({ inputs, backend: b, attrs }) => {
  const backend = b as KernelBackend;
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as DepthwiseAttrs & { inputShape: [number, number, number, number] };
  const info = geometry(a.inputShape, filter.shape, a);
  const C = info.inChannels;
  const m = info.outChannels / C;
  const wv = read(backend, filter);
  const dyv = read(backend, dy);
  const out = new Float32Array(a.inputShape.reduce((p, d) => p * d, 1));
  forEachTap(info, (xOff, dyOff, wOff) => {
    if (m === 1) for (let c = 0; c < C; c++) out[xOff + c]! += wv[wOff + c]! * dyv[dyOff + c]!;
    else
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let q = 0; q < m; q++) s += wv[wOff + c * m + q]! * dyv[dyOff + c * m + q]!;
        out[xOff + c]! += s;
      }
  });
  return { dataId: backend.write(out, a.inputShape, 'float32'), shape: a.inputShape, dtype: 'float32' };
};
