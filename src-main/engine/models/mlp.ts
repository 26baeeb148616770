/**
 * mlp: flatten → DenseRank1(hidden) → ReLU → DenseRank1(classes). Tiny inputs and tests; with
 * `arch: 'head'` the same network reads a frozen backbone's embedding (transfer learning).
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../types.js';
import { DenseRank1, type ForwardContext } from '../layers/rank1.js';
import type { Rng } from '../random.js';
import { BaseModel, type ForwardResult } from './base.js';

export class Mlp extends BaseModel {
  private readonly hidden: DenseRank1;
  private readonly head: DenseRank1;
  constructor(config: ModelConfig, rng: Rng) {
    super(config);
    const [h, w, c] = config.inputShape;
    const inputDim = config.arch === 'head' ? config.embeddingSize! : h * w * c;
    const units = config.hidden ?? 128;
    this.hidden = this.layers.dense(new DenseRank1({ name: 'dense1', inputDim, units }, this.f, rng));
    this.head = this.layers.dense(
      new DenseRank1({ name: 'head', inputDim: units, units: config.numClasses }, this.f, rng),
    );
  }
  forward(x: tf.Tensor, ctx: ForwardContext): ForwardResult {
    const flat = tf.reshape(x, [x.shape[0], -1]) as tf.Tensor2D;
    const features = tf.relu(this.hidden.apply(flat, ctx));
    return { features, logits: this.head.apply(features, ctx) };
  }
}
