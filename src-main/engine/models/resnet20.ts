/** resnet20: exactly the benchmark model of ../shared/bench/torch_rank1_resnet20.py. */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../types.js';
import type { BatchNorm } from '../layers/batchnorm.js';
import { Conv2DRank1, DenseRank1, type ForwardContext } from '../layers/rank1.js';
import type { Rng } from '../random.js';
import { BaseModel, type ForwardResult } from './base.js';
import { residualConvs, type BlockArgs } from './residual.js';

/** ResNet v1 basic block: conv-BN-ReLU-conv-BN, + (1×1 conv + BN) projection, ReLU. */
class BasicBlock {
  readonly c1: Conv2DRank1;
  readonly b1: BatchNorm;
  readonly c2: Conv2DRank1;
  readonly b2: BatchNorm;
  readonly sc?: { conv: Conv2DRank1; bn: BatchNorm };
  constructor(a: BlockArgs) {
    const { layers, name, cout } = a;
    const { c1, c2, shortcut } = residualConvs(a);
    this.c1 = c1;
    this.b1 = layers.bn(`${name}/bn1`, cout);
    this.c2 = c2;
    this.b2 = layers.bn(`${name}/bn2`, cout);
    if (shortcut) this.sc = { conv: shortcut, bn: layers.bn(`${name}/shortcut_bn`, cout) };
  }
  apply(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    const h = tf.relu(this.b1.apply(this.c1.apply(x, ctx), ctx));
    const y = this.b2.apply(this.c2.apply(h, ctx), ctx);
    const s = this.sc ? this.sc.bn.apply(this.sc.conv.apply(x, ctx), ctx) : x;
    return tf.relu(tf.add(y, s) as tf.Tensor4D);
  }
}

export class ResNet20 extends BaseModel {
  private readonly stem: Conv2DRank1;
  private readonly stemBn: BatchNorm;
  private readonly blocks: BasicBlock[] = [];
  private readonly head: DenseRank1;
  private readonly stemPool: boolean;
  constructor(config: ModelConfig, rng: Rng) {
    super(config);
    const [h, , c] = config.inputShape;
    // Inputs above 48 px get a stride-2 stem, above 96 px a max-pool too, so the last stage
    // still sees ~8×8 maps as at 32 px.
    const stemStride = h > 48 ? 2 : 1;
    this.stemPool = h > 96;
    this.stem = this.layers.conv(
      new Conv2DRank1(
        { name: 'stem', inChannels: c, filters: 16, kernelSize: 3, strides: stemStride },
        this.f,
        rng,
      ),
    );
    this.stemBn = this.layers.bn('stem_bn', 16);
    let cin = 16;
    [
      [16, 1],
      [32, 2],
      [64, 2],
    ].forEach(([cout, stride], s) => {
      for (let i = 0; i < 3; i++) {
        this.blocks.push(
          new BasicBlock({
            layers: this.layers,
            name: `stage${s + 1}/block${i + 1}`,
            cin,
            cout: cout!,
            stride: i === 0 ? stride! : 1,
            f: this.f,
            rng,
          }),
        );
        cin = cout!;
      }
    });
    this.head = this.layers.dense(
      new DenseRank1({ name: 'head', inputDim: 64, units: config.numClasses }, this.f, rng),
    );
  }
  forward(x: tf.Tensor, ctx: ForwardContext): ForwardResult {
    let h = tf.relu(this.stemBn.apply(this.stem.apply(x as tf.Tensor4D, ctx), ctx));
    if (this.stemPool) h = tf.maxPool(h, 3, 2, 'same');
    const pooled: tf.Tensor2D[] = [tf.mean(h, [1, 2]) as tf.Tensor2D];
    this.blocks.forEach((b, i) => {
      h = b.apply(h, ctx);
      // the end of stages 1 and 2 (3 blocks each); stage 3's average is the penultimate layer
      if (i === 2 || i === 5) pooled.push(tf.mean(h, [1, 2]) as tf.Tensor2D);
    });
    const penultimate = tf.mean(h, [1, 2]) as tf.Tensor2D;
    return { features: tf.concat([penultimate, ...pooled], 1), logits: this.head.apply(penultimate, ctx) };
  }
}
