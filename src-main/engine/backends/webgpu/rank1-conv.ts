/**
 * The rank-1 convolution as one op (spec §1, Conv2DRank1): y = act(conv(x ⊙ α, W) ⊙ γ + bias), with
 * α [N, Ci], γ [N, Co] and bias [N, Co] per row (already tiled per member), 'same' padding, NHWC.
 *
 * Gradients (dy' = dy·[y > 0] with ReLU, else dy; z = conv(x ⊙ α, W)):
 *   dbias = Σ_hw dy'            dγ = Σ_hw dy' ⊙ z
 *   dW    = Σ_(b,oh,ow) (x ⊙ α) ⊗ (dy' ⊙ γ)            (one GEMM, α and γ applied while reading)
 *   dxα   = conv2dTranspose(dy' ⊙ γ, W)                 (one GEMM, γ applied while reading)
 *   dx    = dxα ⊙ α                 dα = Σ_hw dxα ⊙ x
 *
 * Two implementations share that algebra: `referenceImpl` (plain tfjs ops, any backend; the CPU
 * reference the tests check against autodiff) and `webgpuImpl` (the WGSL GEMMs of ./kernels.ts).
 * Training uses z = GEMM(x ⊙ α, W) saved for dγ, then ⊙γ (+bias, ReLU) as tfjs ops; inference runs the
 * fully fused kernel (one pass), whose gradient is registered too (it recomputes z).
 */
import * as tf from '@tensorflow/tfjs';
import type { Conv2DRank1FastArgs } from '../../layers/rank1.js';
import { RANK1_CONV, RANK1_CONV_FILTER_GRAD, RANK1_CONV_INPUT_GRAD } from './kernels.js';

/** The layer's fused-path arguments (per-row factors [N, C], 'same' padding), plus a ReLU. */
export interface Rank1ConvArgs extends Omit<Conv2DRank1FastArgs, 'training'> {
  relu?: boolean;
}

/** The four GEMM-shaped pieces; everything else is elementwise or a reduction over H, W. */
export interface Rank1ConvImpl {
  /** act(conv(x ⊙ α, W) ⊙ γ + bias) in one pass. */
  fused(a: Rank1ConvArgs): tf.Tensor4D;
  /** z = conv(x ⊙ α, W). */
  pre(x: tf.Tensor4D, w: tf.Tensor4D, alpha: tf.Tensor2D, strides: number): tf.Tensor4D;
  /** dW = Σ (x ⊙ α) ⊗ (dy ⊙ γ). */
  filterGrad(
    x: tf.Tensor4D,
    dy: tf.Tensor4D,
    alpha: tf.Tensor2D,
    gamma: tf.Tensor2D,
    filterShape: number[],
    strides: number,
  ): tf.Tensor4D;
  /** dxα = conv2dTranspose(dy ⊙ γ, W). */
  inputGrad(
    dy: tf.Tensor4D,
    w: tf.Tensor4D,
    gamma: tf.Tensor2D,
    xShape: number[],
    strides: number,
  ): tf.Tensor4D;
}

const rows4 = (v: tf.Tensor2D): tf.Tensor4D => tf.reshape(v, [v.shape[0], 1, 1, v.shape[1]]);

/** Plain tfjs ops, the formula of layers/rank1.ts (runs on any backend). */
export const referenceImpl: Rank1ConvImpl = {
  fused({ x, kernel, alpha, gamma, bias, strides, relu }) {
    return tf.tidy(() => {
      let h = tf.conv2d(tf.mul(x, rows4(alpha)) as tf.Tensor4D, kernel, strides, 'same');
      h = tf.mul(h, rows4(gamma));
      if (bias) h = tf.add(h, rows4(bias));
      return relu ? tf.relu(h) : h;
    });
  },
  pre(x, w, alpha, strides) {
    return tf.tidy(() => tf.conv2d(tf.mul(x, rows4(alpha)) as tf.Tensor4D, w, strides, 'same'));
  },
  filterGrad(x, dy, alpha, gamma, filterShape, strides) {
    return tf.tidy(
      () =>
        tf
          .engine()
          .runKernel('Conv2DBackpropFilter', { x: tf.mul(x, rows4(alpha)), dy: tf.mul(dy, rows4(gamma)) }, {
            strides,
            pad: 'same',
            dataFormat: 'NHWC',
            filterShape,
          } as any) as tf.Tensor4D,
    );
  },
  inputGrad(dy, w, gamma, xShape, strides) {
    return tf.tidy(
      () =>
        tf.engine().runKernel('Conv2DBackpropInput', { dy: tf.mul(dy, rows4(gamma)), filter: w }, {
          strides,
          pad: 'same',
          dataFormat: 'NHWC',
          inputShape: xShape,
        } as any) as tf.Tensor4D,
    );
  },
};

/** The WGSL kernels (only where ./index.ts registered them for the active backend). */
export const webgpuImpl: Rank1ConvImpl = {
  fused({ x, kernel, alpha, gamma, bias, strides, relu }) {
    const inputs: Record<string, tf.Tensor> = { x, filter: kernel, alpha, gamma };
    if (bias) inputs.bias = bias;
    return tf.engine().runKernel(RANK1_CONV, inputs, {
      strides,
      pad: 'same',
      relu: !!relu,
      hasBias: !!bias,
    } as any) as tf.Tensor4D;
  },
  pre(x, w, alpha, strides) {
    return tf.engine().runKernel(RANK1_CONV, { x, filter: w, alpha }, {
      strides,
      pad: 'same',
      relu: false,
    } as any) as tf.Tensor4D;
  },
  filterGrad(x, dy, alpha, gamma, filterShape, strides) {
    return tf.engine().runKernel(RANK1_CONV_FILTER_GRAD, { x, dy, alpha, gamma }, {
      strides,
      pad: 'same',
      filterShape,
    } as any) as tf.Tensor4D;
  },
  inputGrad(dy, w, gamma, xShape, strides) {
    return tf.engine().runKernel(RANK1_CONV_INPUT_GRAD, { dy, filter: w, gamma }, {
      strides,
      pad: 'same',
      inputShape: xShape,
    } as any) as tf.Tensor4D;
  },
};

/** Gradients of the rank-1 conv given z (pre-γ output) and, with ReLU, y; in input order. */
export function rank1ConvGrads(
  impl: Rank1ConvImpl,
  dy: tf.Tensor4D,
  saved: {
    x: tf.Tensor4D;
    kernel: tf.Tensor4D;
    alpha: tf.Tensor2D;
    gamma: tf.Tensor2D;
    z: tf.Tensor4D;
    y?: tf.Tensor4D;
  },
  strides: number,
  hasBias: boolean,
): tf.Tensor[] {
  const { x, kernel, alpha, gamma, z, y } = saved;
  const dyr = (y ? tf.mul(dy, tf.step(y)) : dy) as tf.Tensor4D;
  const dGamma = tf.sum(tf.mul(dyr, z), [1, 2]);
  const dW = impl.filterGrad(x, dyr, alpha, gamma, kernel.shape, strides);
  const dxa = impl.inputGrad(dyr, kernel, gamma, x.shape, strides);
  const dx = tf.mul(dxa, rows4(alpha));
  const dAlpha = tf.sum(tf.mul(dxa, x), [1, 2]);
  return hasBias ? [dx, dW, dAlpha, dGamma, tf.sum(dyr, [1, 2])] : [dx, dW, dAlpha, dGamma];
}

/**
 * The rank-1 conv as a differentiable op over `impl`: forward z = pre(x, W, α) (kept for dγ), then
 * ⊙γ (+bias, ReLU) as tfjs ops; backward by `rank1ConvGrads`. The training path.
 */
export function rank1Conv2d(impl: Rank1ConvImpl, a: Rank1ConvArgs): tf.Tensor4D {
  const { strides, relu } = a;
  const hasBias = a.bias !== undefined;
  const op = tf.customGrad((...args: any[]) => {
    const [x, kernel, alpha, gamma, bias] = args as [
      tf.Tensor4D,
      tf.Tensor4D,
      tf.Tensor2D,
      tf.Tensor2D,
      tf.Tensor2D,
    ];
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const z = impl.pre(x, kernel, alpha, strides);
    let h = tf.mul(z, rows4(gamma)) as tf.Tensor4D;
    if (hasBias) h = tf.add(h, rows4(bias));
    const y = relu ? tf.relu(h) : h;
    save(relu ? [x, kernel, alpha, gamma, z, y] : [x, kernel, alpha, gamma, z]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sk, sa, sg, sz, sy] = saved as [
          tf.Tensor4D,
          tf.Tensor4D,
          tf.Tensor2D,
          tf.Tensor2D,
          tf.Tensor4D,
          tf.Tensor4D | undefined,
        ];
        return rank1ConvGrads(
          impl,
          dy as tf.Tensor4D,
          { x: sx, kernel: sk, alpha: sa, gamma: sg, z: sz, y: sy },
          strides,
          hasBias,
        );
      },
    };
  });
  const inputs = [a.x, a.kernel, a.alpha, a.gamma, ...(a.bias ? [a.bias] : [])];
  return (op as (...t: tf.Tensor[]) => tf.Tensor4D)(...inputs);
}

/** Gradient of the fused kernel (registered for webgpu): z is recomputed, y is the kernel's output. */
export const rank1ConvGradConfig: tf.GradConfig = {
  kernelName: RANK1_CONV,
  inputsToSave: ['x', 'filter', 'alpha', 'gamma'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const a = attrs as unknown as { strides: number; relu: boolean; hasBias: boolean };
    const [x, filter, alpha, gamma, y] = saved as tf.Tensor[];
    const hasBias = !!a.hasBias;
    const z = webgpuImpl.pre(x as tf.Tensor4D, filter as tf.Tensor4D, alpha as tf.Tensor2D, a.strides);
    const g = rank1ConvGrads(
      webgpuImpl,
      dy as tf.Tensor4D,
      {
        x: x as tf.Tensor4D,
        kernel: filter as tf.Tensor4D,
        alpha: alpha as tf.Tensor2D,
        gamma: gamma as tf.Tensor2D,
        z,
        y: a.relu ? (y as tf.Tensor4D) : undefined,
      },
      a.strides,
      hasBias,
    );
    const names = ['x', 'filter', 'alpha', 'gamma', 'bias'];
    return Object.fromEntries(g.map((t, i) => [names[i], () => t]));
  },
};
