/** wrn-28-10: the paper's CIFAR model (spec §4), pre-activation blocks, widths 160/320/640. */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../types.js';
import type { BatchNorm } from '../layers/batchnorm.js';
import { Conv2DRank1, DenseRank1, type ForwardContext } from '../layers/rank1.js';
import type { Rng } from '../random.js';
import { BaseModel, type ForwardResult } from './base.js';
import { residualConvs, type BlockArgs } from './residual.js';

/** Pre-activation block (spec §4): BN-ReLU-conv-BN-ReLU-conv, 1×1 rank-1 shortcut on shape change. */
class PreActBlock {
  readonly b1: BatchNorm;
  readonly c1: Conv2DRank1;
  readonly b2: BatchNorm;
  readonly c2: Conv2DRank1;
  readonly sc?: Conv2DRank1;
  constructor(a: BlockArgs) {
    const { layers, name, cin, cout } = a;
    this.b1 = layers.bn(`${name}/bn1`, cin);
    const { c1, c2, shortcut } = residualConvs(a);
    this.c1 = c1;
    this.b2 = layers.bn(`${name}/bn2`, cout);
    this.c2 = c2;
    this.sc = shortcut;
  }
  apply(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    const a = tf.relu(this.b1.apply(x, ctx));
    const h = this.c2.apply(tf.relu(this.b2.apply(this.c1.apply(a, ctx), ctx)), ctx);
    return tf.add(h, this.sc ? this.sc.apply(a, ctx) : x);
  }
}

export class WideResNet extends BaseModel {
  private readonly stem: Conv2DRank1;
  private readonly blocks: PreActBlock[] = [];
  private readonly finalBn: BatchNorm;
  private readonly head: DenseRank1;
  private readonly stemStride: number;
  constructor(config: ModelConfig, rng: Rng, depth = 28) {
    super(config);
    const [h, , c] = config.inputShape;
    const widen = config.hidden ?? 10;
    const n = (depth - 4) / 6;
    this.stemStride = h > 48 ? 2 : 1;
    this.stem = this.layers.conv(
      new Conv2DRank1(
        { name: 'stem', inChannels: c, filters: 16, kernelSize: 3, strides: this.stemStride },
        this.f,
        rng,
      ),
    );
    let cin = 16;
    [16 * widen, 32 * widen, 64 * widen].forEach((cout, g) => {
      for (let i = 0; i < n; i++) {
        this.blocks.push(
          new PreActBlock({
            layers: this.layers,
            name: `group${g + 1}/block${i + 1}`,
            cin,
            cout: cout,
            stride: i === 0 && g > 0 ? 2 : 1,
            f: this.f,
            rng,
          }),
        );
        cin = cout;
      }
    });
    this.finalBn = this.layers.bn('final_bn', cin);
    this.head = this.layers.dense(
      new DenseRank1({ name: 'head', inputDim: cin, units: config.numClasses }, this.f, rng),
    );
  }
  forward(x: tf.Tensor, ctx: ForwardContext): ForwardResult {
    let h = this.stem.apply(x as tf.Tensor4D, ctx);
    for (const b of this.blocks) h = b.apply(h, ctx);
    const features = tf.mean(tf.relu(this.finalBn.apply(h, ctx)), [1, 2]) as tf.Tensor2D;
    return { features, logits: this.head.apply(features, ctx) };
  }
}
