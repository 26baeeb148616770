/**
 * Rank-1 layers (Dusenberry et al. 2020; spec §1–3). Member k, example row b uses the weight
 * W ⊙ (α̃_kb γ̃_kbᵀ): y = ((x ⊙ α̃) W) ⊙ γ̃ + bias_k. α (the paper's s) scales the input side,
 * γ (the paper's r) the output side. Rows are member-major: row n belongs to member n // B.
 *
 * The same layers give the paper's baselines: `deterministic` (K = 1, no factors),
 * `batchensemble` (factors are plain per-member vectors, no distribution, no KL), `ensemble`
 * (no factors; K independent kernels, member k's rows use kernel k) and `mcdropout` (K = 1, no
 * factors; dropout on the input of every layer that does not read the image, kept on at
 * prediction).
 */
import * as tf from '@tensorflow/tfjs';
import type { Method, ModelConfig } from '../types.js';
import { heNormal, inverseSoftplus, randomSign } from '../initializers.js';
import type { Rng } from '../random.js';

/** Samples are clipped to [-10, 10] (spec §1 step 3; min/max_perturbation_value). */
export const PERTURBATION_CLIP = 10;
/** Scale = softplus(ρ) + ε with Keras epsilon (spec §2). */
export const SCALE_EPSILON = 1e-7;

/**
 * The part of the model config a rank-1 layer reads (`members` normalised by membersOf() in
 * models/base.ts factorOptions()); `dropoutRate` 0 or absent: no dropout on the layer's input.
 */
export type FactorOptions = Pick<
  ModelConfig,
  | 'method'
  | 'members'
  | 'dropoutRate'
  | 'posterior'
  | 'randomSignInit'
  | 'priorMean'
  | 'priorStddev'
  | 'initStddev'
>;

/**
 * Fixed factor values for one forward pass, by layer name: α̃ [K, inputDim] and γ̃ [K, units],
 * one row per member, used for every example (prediction: engine/models/prediction-factors.ts).
 */
export type FixedFactors = Map<string, { alpha: tf.Tensor2D; gamma: tf.Tensor2D }>;

/** What a forward pass needs besides the input. */
export interface ForwardContext {
  training: boolean;
  /** Source of seeds for the per-example samples. */
  rng: Rng;
  /**
   * When given, every rank-1 layer uses these values instead of per-example samples, so an
   * example's output does not depend on the rest of the batch (issue 17 item 1).
   */
  factors?: FixedFactors;
}

/** A named trainable tensor, and whether it takes L2 (kernels, biases, BN) or not (factors). */
export interface Param {
  name: string;
  variable: tf.Variable;
  decay: boolean;
  /** Multiplies this parameter's learning rate (pretrained backbone blocks, models/tail.ts); default 1. */
  lrScale?: number;
}

/** Methods with rank-1 factors on a shared weight (spec §1): random for rank1, fixed for batchensemble. */
export function hasFactors(method: Method): boolean {
  return method === 'rank1' || method === 'batchensemble';
}

let uid = 0;
/**
 * TF.js registers variables globally by name, so two models (or a model and its checkpoint)
 * need distinct names: a `__N` suffix is added here and stripped by `logicalName` for saving.
 */
export function variable(name: string, init: tf.Tensor, trainable = true): tf.Variable {
  const v = tf.variable(init, trainable, `${name}__${++uid}`);
  init.dispose();
  return v;
}

/** The name a variable is saved under. */
export function logicalName(v: tf.Variable): string {
  return v.name.replace(/__\d+$/, '');
}

/**
 * One rank-1 factor: K independent fully-factorised components over a vector of `dim` elements
 * (spec §2). Gaussian: N(loc, softplus(ρ)+1e-7); Cauchy: Cauchy(loc, softplus(ρ)+1e-7).
 */
export class RankOneFactor {
  readonly loc: tf.Variable;
  readonly rho?: tf.Variable;

  constructor(
    readonly name: string,
    readonly dim: number,
    readonly opts: FactorOptions,
    rng: Rng,
  ) {
    const K = opts.members;
    this.loc = variable(`${name}/loc`, randomSign([K, dim], opts.randomSignInit, rng));
    if (opts.method === 'rank1') {
      const rho0 = inverseSoftplus(opts.initStddev);
      // Gaussian: ρ ~ TruncatedNormal(ρ0, 0.1); Cauchy: Constant(ρ0) (spec §2, make_initializer).
      const rho =
        opts.posterior === 'cauchy'
          ? tf.fill([K, dim], rho0)
          : tf.truncatedNormal([K, dim], rho0, 0.1, 'float32', rng.seed());
      this.rho = variable(`${name}/rho`, rho);
    }
  }

  params(): Param[] {
    const out: Param[] = [{ name: logicalName(this.loc), variable: this.loc, decay: false }];
    if (this.rho) out.push({ name: logicalName(this.rho), variable: this.rho, decay: false });
    return out;
  }

  scale(): tf.Tensor {
    return tf.add(tf.softplus(this.rho!), SCALE_EPSILON);
  }

  /**
   * Per-example samples for `rows` examples per member: [K·rows, dim], member-major, clipped.
   * BatchEnsemble tiles its fixed vectors instead (spec §1, `tf.tile(alpha, [1, B])`).
   */
  sample(rows: number, rng: Rng): tf.Tensor2D {
    const K = this.opts.members;
    return tf.tidy(() => {
      if (!this.rho) {
        return tf.reshape(tf.tile(tf.expandDims(this.loc, 1), [1, rows, 1]), [
          K * rows,
          this.dim,
        ]) as tf.Tensor2D;
      }
      const noise =
        this.opts.posterior === 'cauchy'
          ? standardCauchy([K, rows, this.dim], rng)
          : tf.randomNormal([K, rows, this.dim], 0, 1, 'float32', rng.seed());
      const draw = tf.add(tf.expandDims(this.loc, 1), tf.mul(tf.expandDims(this.scale(), 1), noise));
      return tf.reshape(tf.clipByValue(draw, -PERTURBATION_CLIP, PERTURBATION_CLIP), [
        K * rows,
        this.dim,
      ]) as tf.Tensor2D;
    });
  }

  /**
   * `samples` draws per member, [samples·K, dim] with row s·K + k, clipped like `sample`; the
   * locations themselves when there is no distribution (BatchEnsemble) or `samples` is 0 (means).
   */
  draw(samples: number, rng: Rng): tf.Tensor2D {
    const K = this.opts.members;
    return tf.tidy(() => {
      if (!this.rho || samples === 0) return tf.clone(this.loc) as tf.Tensor2D;
      const noise =
        this.opts.posterior === 'cauchy'
          ? standardCauchy([samples, K, this.dim], rng)
          : tf.randomNormal([samples, K, this.dim], 0, 1, 'float32', rng.seed());
      const draw = tf.add(this.loc, tf.mul(this.scale(), noise));
      return tf.reshape(tf.clipByValue(draw, -PERTURBATION_CLIP, PERTURBATION_CLIP), [
        samples * K,
        this.dim,
      ]) as tf.Tensor2D;
    });
  }

  /**
   * KL(q‖p) summed over members and elements (spec §3). Gaussian: closed form
   * log(s) − log(σ) + (σ² + (μ−m)²)/(2s²) − ½. Cauchy: one-sample MC log q(x) − log p(x), x ~ q,
   * drawn separately from the forward samples.
   */
  klDivergence(rng: Rng): tf.Scalar {
    if (!this.rho) return tf.scalar(0);
    const { priorMean: m, priorStddev: s } = this.opts;
    return tf.tidy(() => {
      const sigma = this.scale();
      if (this.opts.posterior === 'gaussian') {
        const kl = tf.add(
          tf.sub(Math.log(s), tf.log(sigma)),
          tf.sub(tf.div(tf.add(tf.square(sigma), tf.square(tf.sub(this.loc, m))), 2 * s * s), 0.5),
        );
        return tf.sum(kl);
      }
      const x = tf.add(this.loc, tf.mul(sigma, standardCauchy(this.loc.shape, rng)));
      const logQ = cauchyLogProb(x, this.loc, sigma);
      const logP = cauchyLogProb(x, tf.scalar(m), tf.scalar(s));
      return tf.sum(tf.sub(logQ, logP));
    });
  }

  dispose(): void {
    this.loc.dispose();
    this.rho?.dispose();
  }
}

/** tan(π(u − ½)), u ~ U(0,1) kept away from 0 and 1 (spec §8). */
function standardCauchy(shape: number[], rng: Rng): tf.Tensor {
  return tf.tidy(() =>
    tf.tan(tf.mul(Math.PI, tf.sub(tf.randomUniform(shape, 1e-6, 1 - 1e-6, 'float32', rng.seed()), 0.5))),
  );
}

/** Cauchy log density: −log(π·scale) − log1p(((x−loc)/scale)²) (spec §8). */
export function cauchyLogProb(x: tf.Tensor, loc: tf.Tensor, scale: tf.Tensor): tf.Tensor {
  return tf.tidy(() =>
    tf.sub(tf.neg(tf.log(tf.mul(Math.PI, scale))), tf.log1p(tf.square(tf.div(tf.sub(x, loc), scale)))),
  );
}

/** Shared pieces of DenseRank1, Conv2DRank1 and DepthwiseConv2DRank1 (layers/depthwise.ts). */
export abstract class Rank1Base {
  readonly alpha?: RankOneFactor;
  readonly gamma?: RankOneFactor;
  readonly bias?: tf.Variable;
  abstract readonly kernel: tf.Variable;

  constructor(
    readonly name: string,
    readonly inputDim: number,
    readonly units: number,
    readonly opts: FactorOptions,
    useBias: boolean,
    rng: Rng,
  ) {
    if (hasFactors(opts.method)) {
      this.alpha = new RankOneFactor(`${name}/alpha`, inputDim, opts, rng);
      this.gamma = new RankOneFactor(`${name}/gamma`, units, opts, rng);
    }
    if (useBias) this.bias = variable(`${name}/bias`, tf.zeros([opts.members, units]));
  }

  params(): Param[] {
    return [
      { name: logicalName(this.kernel), variable: this.kernel, decay: true },
      ...(this.bias ? [{ name: logicalName(this.bias), variable: this.bias, decay: true }] : []),
      ...(this.alpha?.params() ?? []),
      ...(this.gamma?.params() ?? []),
    ];
  }

  klDivergence(rng: Rng): tf.Scalar {
    if (!this.alpha || !this.gamma) return tf.scalar(0);
    return tf.tidy(() => tf.add(this.alpha!.klDivergence(rng), this.gamma!.klDivergence(rng)));
  }

  /** Rows per member of a batch of `n` rows; K must divide it (spec §8). */
  protected rowsPerMember(n: number): number {
    const K = this.opts.members;
    if (n % K !== 0) throw new Error(`${this.name}: batch of ${n} rows is not a multiple of ${K} members`);
    return n / K;
  }

  /** Kernel shape: ensemble members each own one, [K, ...shape]. */
  protected kernelShape(shape: number[]): number[] {
    return this.opts.method === 'ensemble' ? [this.opts.members, ...shape] : shape;
  }

  /**
   * mcdropout: whether this layer drops its input. Convolutions that read the image (≤ 3 input
   * channels) do not: dropping pixels is input noise, not a posterior over weights (Gal &
   * Ghahramani 2016 drop the inputs of the hidden weight layers).
   */
  get dropsInput(): boolean {
    const readsImage = this instanceof Conv2DRank1 && this.inputDim <= 3;
    return this.opts.method === 'mcdropout' && (this.opts.dropoutRate ?? 0) > 0 && !readsImage;
  }

  /**
   * `n` dropout masks over the input features, [n, inputDim], values 0 or 1/(1−p) (inverted
   * dropout). A mask multiplies the input as a rank-1 α̃ would (spec §1) — a convolution's mask is
   * per channel (spatial dropout) — so prediction can fix S of them per model like α̃ draws.
   */
  dropoutMasks(n: number, rng: Rng): tf.Tensor2D {
    const keep = 1 - (this.opts.dropoutRate ?? 0);
    return tf.tidy(() =>
      tf.div(tf.floor(tf.add(tf.randomUniform([n, this.inputDim], 0, 1, 'float32', rng.seed()), keep)), keep),
    );
  }

  /** MC dropout on the input, in training and at prediction: ctx.factors' fixed masks, else fresh ones. */
  protected dropInput<T extends tf.Tensor>(x: T, ctx: ForwardContext): T {
    if (!this.dropsInput) return x;
    const n = x.shape[0];
    const fixed = ctx.factors?.get(this.name)?.alpha;
    const masks = fixed
      ? tf.reshape(tf.tile(tf.expandDims(fixed, 1), [1, n / fixed.shape[0], 1]), [n, this.inputDim])
      : this.dropoutMasks(n, ctx.rng);
    return tf.mul(x, x.rank === 4 ? tf.reshape(masks, [n, 1, 1, this.inputDim]) : masks) as T;
  }

  /** Member-major rows [K·rows, dim] of α̃ or γ̃: the fixed values of ctx.factors, else per-row samples. */
  protected factorRows(which: 'alpha' | 'gamma', rows: number, ctx: ForwardContext): tf.Tensor2D {
    const fixed = ctx.factors?.get(this.name)?.[which];
    if (!fixed) return this[which]!.sample(rows, ctx.rng);
    const K = this.opts.members;
    return tf.reshape(tf.tile(tf.expandDims(fixed, 1), [1, rows, 1]), [
      K * rows,
      fixed.shape[1],
    ]) as tf.Tensor2D;
  }

  /** Per-member bias broadcast to rows: [K, units] → [K·B, units]. */
  protected biasRows(rows: number): tf.Tensor2D {
    const K = this.opts.members;
    return tf.reshape(tf.tile(tf.expandDims(this.bias!, 1), [1, rows, 1]), [
      K * rows,
      this.units,
    ]) as tf.Tensor2D;
  }

  dispose(): void {
    this.kernel.dispose();
    this.bias?.dispose();
    this.alpha?.dispose();
    this.gamma?.dispose();
  }
}

export interface DenseRank1Args {
  name: string;
  inputDim: number;
  units: number;
  useBias?: boolean;
  /** 'he' = he_normal (spec §4 WRN head); a number = RandomNormal(stddev) (ResNet-50 head). */
  kernelInit?: 'he' | number;
}

/** y = ((x ⊙ α̃) W) ⊙ γ̃ + bias_k (spec §1, DenseRank1.call). */
export class DenseRank1 extends Rank1Base {
  readonly kernel: tf.Variable;

  constructor(args: DenseRank1Args, opts: FactorOptions, rng: Rng) {
    super(args.name, args.inputDim, args.units, opts, args.useBias ?? true, rng);
    const shape = this.kernelShape([args.inputDim, args.units]);
    const init =
      typeof args.kernelInit === 'number'
        ? tf.randomNormal(shape, 0, args.kernelInit, 'float32', rng.seed())
        : heNormal(shape, args.inputDim, rng);
    this.kernel = variable(`${args.name}/kernel`, init);
  }

  apply(x: tf.Tensor2D, ctx: ForwardContext): tf.Tensor2D {
    return tf.tidy(() => {
      const rows = this.rowsPerMember(x.shape[0]);
      let h: tf.Tensor2D = this.dropInput(x, ctx);
      if (this.alpha) h = tf.mul(h, this.factorRows('alpha', rows, ctx));
      if (this.opts.method === 'ensemble') {
        // [K, rows, in] × [K, in, units]: member k's rows through kernel k.
        const K = this.opts.members;
        const per = tf.matMul(tf.reshape(h, [K, rows, this.inputDim]), this.kernel as tf.Tensor3D);
        h = tf.reshape(per, [K * rows, this.units]);
      } else h = tf.matMul(h, this.kernel as tf.Tensor2D);
      if (this.gamma) h = tf.mul(h, this.factorRows('gamma', rows, ctx));
      if (this.bias) h = tf.add(h, this.biasRows(rows));
      return h;
    });
  }
}

export interface Conv2DRank1Args {
  name: string;
  inChannels: number;
  filters: number;
  kernelSize: number;
  strides?: number;
  useBias?: boolean;
}

/** What a backend's fused rank-1 convolution gets: per-row factors [N, C], 'same' padding. */
export interface Conv2DRank1FastArgs {
  x: tf.Tensor4D;
  kernel: tf.Tensor4D;
  alpha: tf.Tensor2D;
  gamma: tf.Tensor2D;
  bias?: tf.Tensor2D;
  strides: number;
  training: boolean;
}

/** A backend's fused Conv2DRank1 (engine/backends/webgpu); used only while `applies()` is true. */
export interface Conv2DRank1Fast {
  applies(): boolean;
  run(args: Conv2DRank1FastArgs): tf.Tensor4D;
}

let conv2dRank1Fast: Conv2DRank1Fast | undefined;

/** Installs (or with undefined removes) the fused path of Conv2DRank1; returns the previous one. */
export function setConv2DRank1Fast(fast: Conv2DRank1Fast | undefined): Conv2DRank1Fast | undefined {
  const previous = conv2dRank1Fast;
  conv2dRank1Fast = fast;
  return previous;
}

/** out = conv(x ⊙ α̃, W) ⊙ γ̃ (+ bias_k), factors broadcast over H and W (spec §1, Conv2DRank1). */
export class Conv2DRank1 extends Rank1Base {
  readonly kernel: tf.Variable;
  readonly kernelSize: number;
  readonly strides: number;

  constructor(args: Conv2DRank1Args, opts: FactorOptions, rng: Rng) {
    super(args.name, args.inChannels, args.filters, opts, args.useBias ?? false, rng);
    this.kernelSize = args.kernelSize;
    this.strides = args.strides ?? 1;
    const k = args.kernelSize;
    this.kernel = variable(
      `${args.name}/kernel`,
      heNormal(this.kernelShape([k, k, args.inChannels, args.filters]), k * k * args.inChannels, rng),
    );
  }

  apply(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    return tf.tidy(() => {
      const n = x.shape[0];
      const rows = this.rowsPerMember(n);
      if (this.alpha && this.gamma && conv2dRank1Fast?.applies()) {
        // Same draws in the same order as below: alpha, gamma, then the bias rows.
        const alpha = this.factorRows('alpha', rows, ctx);
        const gamma = this.factorRows('gamma', rows, ctx);
        const bias = this.bias ? this.biasRows(rows) : undefined;
        const kernel = this.kernel as tf.Tensor4D;
        return conv2dRank1Fast.run({
          x,
          kernel,
          alpha,
          gamma,
          bias,
          strides: this.strides,
          training: ctx.training,
        });
      }
      let h: tf.Tensor4D = this.dropInput(x, ctx);
      if (this.alpha)
        h = tf.mul(h, tf.reshape(this.factorRows('alpha', rows, ctx), [n, 1, 1, this.inputDim]));
      if (this.opts.method === 'ensemble') {
        // Member k's rows through kernel k (rows are member-major).
        const kernels = tf.unstack(this.kernel) as tf.Tensor4D[];
        const parts = tf.split(h, this.opts.members, 0);
        h = tf.concat(
          parts.map((p, k) => tf.conv2d(p as tf.Tensor4D, kernels[k]!, this.strides, 'same')),
          0,
        );
      } else h = tf.conv2d(h, this.kernel as tf.Tensor4D, this.strides, 'same');
      if (this.gamma) h = tf.mul(h, tf.reshape(this.factorRows('gamma', rows, ctx), [n, 1, 1, this.units]));
      if (this.bias) h = tf.add(h, tf.reshape(this.biasRows(rows), [n, 1, 1, this.units]));
      return h;
    });
  }
}
