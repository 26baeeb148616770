/**
 * DepthwiseConv2DRank1: a depthwise convolution with rank-1 factors (spec §1: the paper puts
 * factors on every convolution). Member k, example row b: out = dwconv(x ⊙ α̃_kb, W) ⊙ γ̃_kb
 * (+ bias_k), α̃ and γ̃ over the C channels (a depthwise layer maps channel c to channel c, so
 * both factors have C elements), broadcast over H and W as in Conv2DRank1.
 *
 * Used by fine-tuned backbone blocks (models/tail.ts). The convolution is tf.depthwiseConv2d where
 * the backend has its gradient kernels (cpu, tensorflow; wasm through backends/wasm-depthwise.ts),
 * else k×k shifted products summed (`depthwiseConv`: pad/slice/mul/add differentiate everywhere).
 */
import * as tf from '@tensorflow/tfjs';
import { heNormal } from '../initializers.js';
import type { Rng } from '../random.js';
import { Rank1Base, variable, type FactorOptions, type ForwardContext } from './rank1.js';

export type Padding = 'same' | 'valid';

export interface DepthwiseConv2DRank1Args {
  name: string;
  channels: number;
  kernelSize: number;
  strides?: number;
  padding?: Padding;
  useBias?: boolean;
}

/** Output size and TF's padding (the odd pixel after, as TF's 'same' puts it). */
export function convGeometry(
  size: number,
  k: number,
  s: number,
  padding: Padding,
): { out: number; before: number; after: number } {
  if (padding === 'valid') return { out: Math.floor((size - k) / s) + 1, before: 0, after: 0 };
  const out = Math.ceil(size / s);
  const total = Math.max((out - 1) * s + k - size, 0);
  return { out, before: Math.floor(total / 2), after: total - Math.floor(total / 2) };
}

/**
 * Depthwise convolution (multiplier 1), kernel [k, k, C, 1], as Σ_ij shift_ij(x) · W[i, j, :]:
 * the stride-1 sums, then every s-th row and column.
 */
export function depthwiseConv(
  x: tf.Tensor4D,
  kernel: tf.Tensor4D,
  strides: number,
  padding: Padding,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, H, W, C] = x.shape;
    const k = kernel.shape[0];
    const gh = convGeometry(H, k, strides, padding);
    const gw = convGeometry(W, k, strides, padding);
    const xp =
      gh.before + gh.after + gw.before + gw.after > 0
        ? tf.pad(x, [
            [0, 0],
            [gh.before, gh.after],
            [gw.before, gw.after],
            [0, 0],
          ])
        : x;
    const h1 = (gh.out - 1) * strides + 1;
    const w1 = (gw.out - 1) * strides + 1;
    let acc: tf.Tensor4D | undefined;
    for (let i = 0; i < k; i++)
      for (let j = 0; j < k; j++) {
        const w = tf.reshape(tf.slice(kernel, [i, j, 0, 0], [1, 1, C, 1]), [C]);
        const term = tf.mul(tf.slice(xp, [0, i, j, 0], [n, h1, w1, C]), w) as tf.Tensor4D;
        acc = acc ? (tf.add(acc, term) as tf.Tensor4D) : term;
      }
    if (strides === 1) return acc!;
    // Every s-th pixel: pad to a multiple of s, view as [n, out, s, out, s, C], keep offset 0.
    const s = strides;
    const full = tf.pad(acc!, [
      [0, 0],
      [0, gh.out * s - h1],
      [0, gw.out * s - w1],
      [0, 0],
    ]);
    const viewed = tf.reshape(full, [n, gh.out, s, gw.out, s, C]);
    return tf.reshape(tf.slice(viewed, [0, 0, 0, 0, 0, 0], [n, gh.out, 1, gw.out, 1, C]), [
      n,
      gh.out,
      gw.out,
      C,
    ]);
  });
}

/** tf.depthwiseConv2d where the current backend can differentiate it, else `depthwiseConv`. */
function convolve(x: tf.Tensor4D, kernel: tf.Tensor4D, strides: number, padding: Padding): tf.Tensor4D {
  const backend = tf.getBackend();
  const native =
    tf.getKernel(tf.DepthwiseConv2dNativeBackpropFilter, backend) !== undefined &&
    tf.getKernel(tf.DepthwiseConv2dNativeBackpropInput, backend) !== undefined;
  return native
    ? tf.depthwiseConv2d(x, kernel, strides, padding)
    : depthwiseConv(x, kernel, strides, padding);
}

/** out = dwconv(x ⊙ α̃, W) ⊙ γ̃ (+ bias_k), factors over the channels (spec §1). */
export class DepthwiseConv2DRank1 extends Rank1Base {
  readonly kernel: tf.Variable;
  readonly kernelSize: number;
  readonly strides: number;
  readonly padding: Padding;

  constructor(args: DepthwiseConv2DRank1Args, opts: FactorOptions, rng: Rng) {
    super(args.name, args.channels, args.channels, opts, args.useBias ?? false, rng);
    this.kernelSize = args.kernelSize;
    this.strides = args.strides ?? 1;
    this.padding = args.padding ?? 'same';
    const k = args.kernelSize;
    // Each output channel sees k·k inputs (fan-in of one channel's window).
    this.kernel = variable(
      `${args.name}/kernel`,
      heNormal(this.kernelShape([k, k, args.channels, 1]), k * k, rng),
    );
  }

  apply(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    return tf.tidy(() => {
      const n = x.shape[0];
      const rows = this.rowsPerMember(n);
      const C = this.inputDim;
      let h: tf.Tensor4D = this.dropInput(x, ctx);
      if (this.alpha) h = tf.mul(h, tf.reshape(this.factorRows('alpha', rows, ctx), [n, 1, 1, C]));
      if (this.opts.method === 'ensemble') {
        // Member k's rows through kernel k (rows are member-major).
        const kernels = tf.unstack(this.kernel) as tf.Tensor4D[];
        const parts = tf.split(h, this.opts.members, 0);
        h = tf.concat(
          parts.map((p, k) => convolve(p as tf.Tensor4D, kernels[k]!, this.strides, this.padding)),
          0,
        );
      } else h = convolve(h, this.kernel as tf.Tensor4D, this.strides, this.padding);
      if (this.gamma) h = tf.mul(h, tf.reshape(this.factorRows('gamma', rows, ctx), [n, 1, 1, C]));
      if (this.bias) h = tf.add(h, tf.reshape(this.biasRows(rows), [n, 1, 1, C]));
      return h;
    });
  }
}
