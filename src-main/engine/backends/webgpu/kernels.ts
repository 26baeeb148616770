/**
 * Kernel functions for the webgpu backend: tfjs's Conv2DBackpropFilter / Conv2DBackpropInput replaced
 * by implicit GEMMs (./conv.ts), and the rank-1 convolution kernels used by ./rank1-conv.ts. Each
 * replaced kernel falls back to tfjs's own for what it does not cover (NCHW, dilation, int dtypes,
 * oversized dispatches).
 */
import * as tf from '@tensorflow/tfjs';
import {
  convGeom,
  filterGradSpec,
  fits,
  forwardSpec,
  inputGradSpec,
  runGemm,
  type ConvGeom,
  type WebGpuBackendLike,
} from './conv.js';

type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;

/** Kernel names of the rank-1 convolution (webgpu only). */
export const RANK1_CONV = 'Rank1Conv2D';
export const RANK1_CONV_FILTER_GRAD = 'Rank1Conv2DBackpropFilter';
export const RANK1_CONV_INPUT_GRAD = 'Rank1Conv2DBackpropInput';

/** Counts of kernel calls served by these GEMMs and by tfjs's fallback (for tests and profiles). */
export const kernelStats = { filterGrad: 0, inputGrad: 0, fallback: 0, rank1Forward: 0, addNChunked: 0 };

/**
 * AddN within the device's storage-buffer limit: tfjs binds every input of AddN to one shader, so the
 * L2 term's addN over ~65 variables fails on a device allowing fewer storage buffers per stage (16 on
 * llvmpipe; WebGPU's default is 8). Larger sums are done in chunks with tfjs's own kernel.
 */
export function makeAddN(original?: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    if (!original) throw new Error('AddN: tfjs kernel missing');
    const inputs = args.inputs as unknown as tf.TensorInfo[];
    const backend = args.backend as WebGpuBackendLike & {
      device?: { limits?: { maxStorageBuffersPerShaderStage?: number } };
    };
    const limit = backend.device?.limits?.maxStorageBuffersPerShaderStage ?? 8;
    const per = Math.max(2, limit - 1); // one binding is the output
    if (inputs.length <= per) return original(args);
    kernelStats.addNChunked++;
    let level = inputs;
    const temps: tf.TensorInfo[] = [];
    while (level.length > 1) {
      const next: tf.TensorInfo[] = [];
      for (let i = 0; i < level.length; i += per) {
        const chunk = level.slice(i, i + per);
        if (chunk.length === 1) {
          next.push(chunk[0]!);
          continue;
        }
        const sum = original({ ...args, inputs: chunk as unknown as tf.NamedTensorInfoMap }) as tf.TensorInfo;
        temps.push(sum);
        next.push(sum);
      }
      level = next;
    }
    const out = level[0]!;
    for (const t of temps) if (t !== out) backend.disposeData(t.dataId);
    return out;
  };
}

const isF32 = (...ts: (tf.TensorInfo | undefined)[]): boolean =>
  ts.every((t) => t === undefined || t.dtype === 'float32');

export function makeConv2DBackpropFilter(original?: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const a = args.attrs as unknown as {
      strides: [number, number] | number;
      pad: Pad;
      dataFormat: string;
      dimRoundingMode?: 'floor' | 'round' | 'ceil';
      filterShape: [number, number, number, number];
    };
    const g =
      isF32(x, dy) && convGeom(x.shape, a.filterShape, a.strides, a.pad, a.dataFormat, 1, a.dimRoundingMode);
    const spec = g && filterGradSpec(g, {});
    if (!g || !spec || !fits(spec)) {
      if (!original) throw new Error('Conv2DBackpropFilter: unsupported configuration');
      kernelStats.fallback++;
      return original(args);
    }
    kernelStats.filterGrad++;
    return runGemm(args.backend as WebGpuBackendLike, spec, [x, dy], a.filterShape);
  };
}

export function makeConv2DBackpropInput(original?: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const a = args.attrs as unknown as {
      inputShape: [number, number, number, number];
      strides: [number, number] | number;
      pad: Pad;
      dataFormat: string;
      dimRoundingMode?: 'floor' | 'round' | 'ceil';
    };
    const g =
      isF32(dy, filter) &&
      convGeom(a.inputShape, filter.shape, a.strides, a.pad, a.dataFormat, 1, a.dimRoundingMode);
    const spec = g && inputGradSpec(g, {});
    if (!g || !spec || !fits(spec)) {
      if (!original) throw new Error('Conv2DBackpropInput: unsupported configuration');
      kernelStats.fallback++;
      return original(args);
    }
    kernelStats.inputGrad++;
    return runGemm(args.backend as WebGpuBackendLike, spec, [dy, filter], a.inputShape);
  };
}

interface Rank1Attrs {
  strides: number;
  pad: 'same' | 'valid';
}

function geomOr(xShape: number[], filterShape: number[], a: Rank1Attrs): ConvGeom {
  const g = convGeom(xShape, filterShape, a.strides, a.pad);
  if (!g) throw new Error('rank-1 conv: unsupported configuration');
  return g;
}

/**
 * Rank1Conv2D: y = act(conv(x ⊙ α, W) ⊙ γ + bias) in one GEMM; inputs x, filter, alpha?, gamma?,
 * bias? ([N, C] rows); attrs strides, pad, relu (boolean).
 */
export const rank1ConvForward: tf.KernelFunc = (args) => {
  const { x, filter, alpha, gamma, bias } = args.inputs as Record<string, tf.TensorInfo | undefined>;
  const a = args.attrs as unknown as Rank1Attrs & { relu: boolean };
  const g = geomOr(x!.shape, filter!.shape, a);
  const parts = { alpha: !!alpha, gamma: !!gamma, bias: !!bias, relu: !!a.relu };
  const spec = forwardSpec(g, parts);
  kernelStats.rank1Forward++;
  const inputs = [x!, filter!, alpha, gamma, bias].filter((t): t is tf.TensorInfo => t !== undefined);
  return runGemm(args.backend as WebGpuBackendLike, spec, inputs, spec.outputShape);
};

/** dW = Σ (x ⊙ α) · (dy ⊙ γ) with split-K; inputs x, dy, alpha?, gamma?; attrs strides, pad, filterShape. */
export const rank1ConvFilterGrad: tf.KernelFunc = (args) => {
  const { x, dy, alpha, gamma } = args.inputs as Record<string, tf.TensorInfo | undefined>;
  const a = args.attrs as unknown as Rank1Attrs & { filterShape: number[] };
  const g = geomOr(x!.shape, a.filterShape, a);
  const spec = filterGradSpec(g, { alpha: !!alpha, gamma: !!gamma });
  kernelStats.filterGrad++;
  const inputs = [x!, dy!, alpha, gamma].filter((t): t is tf.TensorInfo => t !== undefined);
  return runGemm(args.backend as WebGpuBackendLike, spec, inputs, a.filterShape);
};

/** dxα = conv2dTranspose(dy ⊙ γ, W); inputs dy, filter, gamma?; attrs strides, pad, inputShape. */
export const rank1ConvInputGrad: tf.KernelFunc = (args) => {
  const { dy, filter, gamma } = args.inputs as Record<string, tf.TensorInfo | undefined>;
  const a = args.attrs as unknown as Rank1Attrs & { inputShape: number[] };
  const g = geomOr(a.inputShape, filter!.shape, a);
  const spec = inputGradSpec(g, { gamma: !!gamma });
  kernelStats.inputGrad++;
  const inputs = [dy!, filter!, gamma].filter((t): t is tf.TensorInfo => t !== undefined);
  return runGemm(args.backend as WebGpuBackendLike, spec, inputs, a.inputShape);
};

/** True when the rank-1 GEMMs can run this layer shape (dispatch limits). */
export function rank1Supported(xShape: number[], filterShape: number[], strides: number): boolean {
  const g = convGeom(xShape, filterShape, strides, 'same');
  if (!g) return false;
  return (
    fits(forwardSpec(g, { alpha: true, gamma: true, bias: true })) &&
    fits(filterGradSpec(g, { alpha: true, gamma: true })) &&
    fits(inputGradSpec(g, { gamma: true }))
  );
}
