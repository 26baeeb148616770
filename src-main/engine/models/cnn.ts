/**
 * cnn: three conv stages (16/32/64) with BN and pooling, DenseRank1(128) and a DenseRank1 head.
 * The CPU default for small from-scratch datasets.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../types.js';
import type { BatchNorm } from '../layers/batchnorm.js';
import { Conv2DRank1, DenseRank1, type ForwardContext } from '../layers/rank1.js';
import type { Rng } from '../random.js';
import { BaseModel, type ForwardResult } from './base.js';

export class SmallCnn extends BaseModel {
  private readonly convs: Conv2DRank1[] = [];
  private readonly norms: BatchNorm[] = [];
  private readonly hidden: DenseRank1;
  private readonly head: DenseRank1;
  private readonly stemPool: number;
  constructor(config: ModelConfig, rng: Rng) {
    super(config);
    const [h, , c] = config.inputShape;
    // Larger inputs are average-pooled to ~32 px first: the CPU default must stay cheap.
    this.stemPool = Math.max(1, Math.floor(h / 32));
    const widths = [16, 32, 64];
    let cin = c;
    widths.forEach((w, i) => {
      this.convs.push(
        this.layers.conv(
          new Conv2DRank1({ name: `conv${i + 1}`, inChannels: cin, filters: w, kernelSize: 3 }, this.f, rng),
        ),
      );
      this.norms.push(this.layers.bn(`bn${i + 1}`, w));
      cin = w;
    });
    // Flatten keeps where a stroke is, which global pooling loses (and learns much faster on
    // digits); the hidden layer gives compact features for the distance-based OOD scores.
    let side = Math.floor(h / this.stemPool);
    for (let i = 0; i < widths.length - 1; i++) side = Math.ceil(side / 2);
    const units = config.hidden ?? 128;
    this.hidden = this.layers.dense(
      new DenseRank1({ name: 'dense1', inputDim: side * side * cin, units }, this.f, rng),
    );
    this.head = this.layers.dense(
      new DenseRank1({ name: 'head', inputDim: units, units: config.numClasses }, this.f, rng),
    );
  }
  forward(x: tf.Tensor, ctx: ForwardContext): ForwardResult {
    let h = x as tf.Tensor4D;
    if (this.stemPool > 1) h = tf.avgPool(h, this.stemPool, this.stemPool, 'valid');
    const pooled: tf.Tensor2D[] = [];
    this.convs.forEach((conv, i) => {
      h = tf.relu(this.norms[i]!.apply(conv.apply(h, ctx), ctx));
      pooled.push(tf.mean(h, [1, 2]) as tf.Tensor2D);
      if (i < this.convs.length - 1) h = tf.maxPool(h, 2, 2, 'same');
    });
    const penultimate = tf.relu(this.hidden.apply(tf.reshape(h, [h.shape[0], -1]) as tf.Tensor2D, ctx));
    return { features: tf.concat([penultimate, ...pooled], 1), logits: this.head.apply(penultimate, ctx) };
  }
}
