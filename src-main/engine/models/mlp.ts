/**
 * mlp: flatten → DenseRank1(hidden) → ReLU → DenseRank1(classes). Tiny inputs and tests; with
 * `arch: 'head'` the same network reads a frozen backbone's embedding (transfer learning), and
 * with `fineTune` the backbone's last blocks first (models/tail.ts): the input is then the cut's
 * spatial map, flattened, and the head reads its global average.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../types.js';
import { DenseRank1, type ForwardContext, type Param } from '../layers/rank1.js';
import type { Rng } from '../random.js';
import { BaseModel, type ForwardResult } from './base.js';
import { TailBlocks, withPretrainedScale } from './tail.js';

export class Mlp extends BaseModel {
  private readonly hidden: DenseRank1;
  private readonly head: DenseRank1;
  private readonly tail?: TailBlocks;
  constructor(config: ModelConfig, rng: Rng) {
    super(config);
    const [h, w, c] = config.inputShape;
    let inputDim = config.arch === 'head' ? config.embeddingSize! : h * w * c;
    if (config.arch === 'head' && config.fineTune) {
      this.tail = new TailBlocks(config.fineTune, this.layers, this.f, rng);
      inputDim = this.tail.channels;
    }
    const units = config.hidden ?? 128;
    this.hidden = this.layers.dense(new DenseRank1({ name: 'dense1', inputDim, units }, this.f, rng));
    this.head = this.layers.dense(
      new DenseRank1({ name: 'head', inputDim: units, units: config.numClasses }, this.f, rng),
    );
  }
  override params(): Param[] {
    return this.tail ? withPretrainedScale(super.params(), this.tail) : super.params();
  }
  forward(x: tf.Tensor, ctx: ForwardContext): ForwardResult {
    if (this.tail) {
      const [h, w, c] = this.config.fineTune!.inputShape;
      const map = this.tail.apply(tf.reshape(x, [x.shape[0]!, h, w, c]) as tf.Tensor4D, ctx);
      const pooled = tf.mean(map, [1, 2]) as tf.Tensor2D;
      const features = tf.relu(this.hidden.apply(pooled, ctx));
      // The OOD features: the head's input and the fine-tuned backbone's pooled output.
      return { features: tf.concat([features, pooled], 1), logits: this.head.apply(features, ctx) };
    }
    const flat = tf.reshape(x, [x.shape[0], -1]) as tf.Tensor2D;
    const features = tf.relu(this.hidden.apply(flat, ctx));
    return { features, logits: this.head.apply(features, ctx) };
  }
}
