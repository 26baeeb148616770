/**
 * Faster kernels for tfjs-backend-webgpu, registered by `initBackend` once 'webgpu' is active
 * (idempotent). Env RANK1_WEBGPU_KERNELS picks what is replaced, for A/B runs on a GPU:
 *   all  (default) implicit-GEMM Conv2DBackpropFilter/Input + the fused rank-1 convolution;
 *   conv           only the two convolution gradients;
 *   tfjs           nothing (stock tfjs-backend-webgpu).
 * Every set gets AddN split into chunks within the device's storage-buffer limit (makeAddN).
 */
import * as tf from '@tensorflow/tfjs';
import { overrideKernel } from '../kernel-registry.js';
import { setConv2DRank1Fast, type Conv2DRank1FastArgs } from '../../layers/rank1.js';
import {
  makeAddN,
  makeConv2DBackpropFilter,
  makeConv2DBackpropInput,
  rank1ConvFilterGrad,
  rank1ConvForward,
  rank1ConvInputGrad,
  rank1Supported,
  RANK1_CONV,
  RANK1_CONV_FILTER_GRAD,
  RANK1_CONV_INPUT_GRAD,
} from './kernels.js';
import { rank1Conv2d, rank1ConvGradConfig, referenceImpl, webgpuImpl } from './rank1-conv.js';

export { kernelStats } from './kernels.js';

export type WebgpuKernelSet = 'all' | 'conv' | 'tfjs';

let registered: WebgpuKernelSet | undefined;

/** Which set is asked for by env RANK1_WEBGPU_KERNELS (default 'all'). */
export function requestedKernelSet(): WebgpuKernelSet {
  const v = process.env.RANK1_WEBGPU_KERNELS?.trim().toLowerCase();
  return v === 'conv' || v === 'tfjs' ? v : 'all';
}

/** The set registered so far (undefined before the first registration). */
export function registeredKernelSet(): WebgpuKernelSet | undefined {
  return registered;
}

function replace(kernelName: string, make: (original?: tf.KernelFunc) => tf.KernelFunc): void {
  overrideKernel('webgpu', kernelName, (previous) => make(previous?.kernelFunc));
}

/**
 * Registers the kernels for 'webgpu' (needs @tensorflow/tfjs-backend-webgpu imported, which the
 * webgpu loader does). Later calls do nothing: tfjs's kernel registry is global.
 */
export function registerWebgpuKernels(set: WebgpuKernelSet = requestedKernelSet()): WebgpuKernelSet {
  if (registered !== undefined) return registered;
  registered = set;
  replace('AddN', makeAddN); // a limit fix, not a speed kernel: in every set
  if (set === 'tfjs') return set;
  replace('Conv2DBackpropFilter', makeConv2DBackpropFilter);
  replace('Conv2DBackpropInput', makeConv2DBackpropInput);
  if (set === 'conv') return set;
  tf.registerKernel({ kernelName: RANK1_CONV, backendName: 'webgpu', kernelFunc: rank1ConvForward });
  tf.registerKernel({
    kernelName: RANK1_CONV_FILTER_GRAD,
    backendName: 'webgpu',
    kernelFunc: rank1ConvFilterGrad,
  });
  tf.registerKernel({
    kernelName: RANK1_CONV_INPUT_GRAD,
    backendName: 'webgpu',
    kernelFunc: rank1ConvInputGrad,
  });
  tf.registerGradient(rank1ConvGradConfig);
  setConv2DRank1Fast({
    applies: () => tf.getBackend() === 'webgpu',
    run: runRank1Conv,
  });
  return set;
}

/** Conv2DRank1 on webgpu: the fused op in training, the one-pass kernel in inference. */
function runRank1Conv(a: Conv2DRank1FastArgs): tf.Tensor4D {
  const args = { x: a.x, kernel: a.kernel, alpha: a.alpha, gamma: a.gamma, bias: a.bias, strides: a.strides };
  if (!rank1Supported(a.x.shape, a.kernel.shape, a.strides)) return referenceImpl.fused(args);
  return a.training ? rank1Conv2d(webgpuImpl, args) : webgpuImpl.fused(args);
}
