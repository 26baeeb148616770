/**
 * One BatchNorm shared by all members: the K members' rows are pooled into one set of batch
 * statistics (spec §4, WRN/TPU: "one shared BN over the whole tiled batch"). Torch defaults:
 * epsilon 1e-5, moving = 0.9·moving + 0.1·batch. Evaluation uses the moving statistics.
 * An `ensemble` of independent networks has one per member instead (`members` > 1): statistics,
 * scale and shift [K, C], member k over its own member-major rows.
 */
import * as tf from '@tensorflow/tfjs';
import { logicalName, variable, type ForwardContext, type Param } from './rank1.js';

export class BatchNorm {
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;
  readonly movingMean: tf.Variable;
  readonly movingVariance: tf.Variable;

  constructor(
    readonly name: string,
    readonly channels: number,
    readonly momentum = 0.9,
    readonly epsilon = 1e-5,
    readonly members = 1,
  ) {
    const shape = members > 1 ? [members, channels] : [channels];
    this.gamma = variable(`${name}/gamma`, tf.ones(shape));
    this.beta = variable(`${name}/beta`, tf.zeros(shape));
    this.movingMean = variable(`${name}/moving_mean`, tf.zeros(shape), false);
    this.movingVariance = variable(`${name}/moving_variance`, tf.ones(shape), false);
  }

  params(): Param[] {
    return [
      { name: logicalName(this.gamma), variable: this.gamma, decay: true },
      { name: logicalName(this.beta), variable: this.beta, decay: true },
    ];
  }

  /** Non-trainable state saved with the model. */
  state(): tf.Variable[] {
    return [this.movingMean, this.movingVariance];
  }

  apply<T extends tf.Tensor>(x: T, ctx: ForwardContext): T {
    if (this.members > 1) return this.applyPerMember(x, ctx);
    return tf.tidy(() => {
      const axes = x.shape.slice(0, -1).map((_, i) => i);
      let mean: tf.Tensor, variance: tf.Tensor;
      if (ctx.training) {
        ({ mean, variance } = tf.moments(x, axes));
        const m = this.momentum;
        // Moving statistics are state: assign() is not on the gradient tape.
        this.movingMean.assign(tf.add(tf.mul(this.movingMean, m), tf.mul(mean, 1 - m)));
        this.movingVariance.assign(tf.add(tf.mul(this.movingVariance, m), tf.mul(variance, 1 - m)));
      } else {
        mean = this.movingMean;
        variance = this.movingVariance;
      }
      const inv = tf.mul(tf.rsqrt(tf.add(variance, this.epsilon)), this.gamma);
      return tf.add(tf.mul(tf.sub(x, mean), inv), this.beta) as T;
    });
  }

  /** [K·B, …, C] viewed as [K, B, …, C]; moments over all but the member and channel axes. */
  private applyPerMember<T extends tf.Tensor>(x: T, ctx: ForwardContext): T {
    return tf.tidy(() => {
      const K = this.members;
      const shape = [K, x.shape[0] / K, ...x.shape.slice(1)];
      const xs = tf.reshape(x, shape);
      const axes = shape.slice(1, -1).map((_, i) => i + 1);
      // [K, C] → [K, 1, …, 1, C] to broadcast over the member's rows.
      const bcast = (t: tf.Tensor) => tf.reshape(t, [K, ...axes.map(() => 1), this.channels]);
      let mean: tf.Tensor, variance: tf.Tensor;
      if (ctx.training) {
        ({ mean, variance } = tf.moments(xs, axes));
        const m = this.momentum;
        this.movingMean.assign(tf.add(tf.mul(this.movingMean, m), tf.mul(mean, 1 - m)));
        this.movingVariance.assign(tf.add(tf.mul(this.movingVariance, m), tf.mul(variance, 1 - m)));
      } else {
        mean = this.movingMean;
        variance = this.movingVariance;
      }
      const inv = tf.mul(tf.rsqrt(tf.add(variance, this.epsilon)), this.gamma);
      const y = tf.add(tf.mul(tf.sub(xs, bcast(mean)), bcast(inv)), bcast(this.beta));
      return tf.reshape(y, x.shape) as T;
    });
  }

  dispose(): void {
    for (const v of [this.gamma, this.beta, this.movingMean, this.movingVariance]) v.dispose();
  }
}
