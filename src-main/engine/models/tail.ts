/**
 * Fine-tuned backbone blocks (issue 16 item 6): the last N blocks of a frozen backbone rebuilt
 * from their `FineTuneConfig` as rank-1 layers (spec §1: factors on every convolution; full and
 * pointwise convolutions are Conv2DRank1, depthwise ones DepthwiseConv2DRank1), the engine's
 * BatchNorm, relu/relu6 and MobileNetV2's residual Add. Started from the pretrained weights
 * (`assignPretrained`), with all factors at 1 the blocks compute what the backbone computes.
 */
import * as tf from '@tensorflow/tfjs';
import type { FineTuneConfig } from '../../common/engine.js';
import { SHORT_SCHEDULE_SIGN_INIT } from '../defaults.js';
import { DepthwiseConv2DRank1 } from '../layers/depthwise.js';
import {
  Conv2DRank1,
  logicalName,
  type FactorOptions,
  type ForwardContext,
  type Param,
} from '../layers/rank1.js';
import type { NamedWeight } from '../model-format.js';
import type { Rng } from '../random.js';
import type { LayerSet, Rank1Model } from './base.js';

/** What fine-tuning starts from: the blocks' config and their pretrained weights (backbones/tail.ts). */
export interface BackboneTailWeights {
  config: FineTuneConfig;
  weights: NamedWeight[];
}

/** Variable names of the blocks: `tail/<backbone layer>/…`. */
export const TAIL_PREFIX = 'tail/';

/**
 * Learning-rate multiplier of the pretrained kernels, BatchNorm scales and shifts. They start at a
 * good solution for ImageNet features and the fresh head starts at random: at the head's rate the
 * first, large head gradients flow back and wreck the pretrained filters before the head has
 * settled (Howard & Ruder 2018, discriminative fine-tuning; Kornblith et al. 2019 fine-tune at a
 * tenth of the from-scratch rate). 0.1× keeps them near the pretrained solution; their rank-1
 * factors, new parameters like the head, train at the full rate.
 */
export const PRETRAINED_LR_SCALE = 0.1;

type Op = (x: tf.Tensor4D, blockInput: tf.Tensor4D, ctx: ForwardContext) => tf.Tensor4D;

export class TailBlocks {
  private readonly blocks: Op[][] = [];
  /** The variables that start pretrained (kernels, BatchNorm scales and shifts). */
  readonly pretrained = new Set<tf.Variable>();
  /** Channels of the last block's output. */
  readonly channels: number;

  constructor(spec: FineTuneConfig, layers: LayerSet, f: FactorOptions, rng: Rng) {
    // Pretrained blocks start from the pretrained function: factor locations near 1, never random
    // signs (a flipped channel is not a small change to a trained filter).
    const opts: FactorOptions = {
      ...f,
      randomSignInit: f.randomSignInit <= 0 ? f.randomSignInit : SHORT_SCHEDULE_SIGN_INIT,
    };
    let c = spec.inputShape[2];
    for (const block of spec.layers) {
      const ops: Op[] = [];
      for (const l of block) {
        switch (l.op) {
          case 'conv': {
            const conv = layers.conv(
              new Conv2DRank1(
                {
                  name: TAIL_PREFIX + l.name,
                  inChannels: c,
                  filters: l.filters,
                  kernelSize: l.kernelSize,
                  strides: l.strides,
                },
                opts,
                rng,
              ),
            );
            this.pretrained.add(conv.kernel);
            ops.push((x, _, ctx) => conv.apply(x, ctx));
            c = l.filters;
            break;
          }
          case 'depthwise': {
            const dw = layers.depthwise(
              new DepthwiseConv2DRank1(
                { name: TAIL_PREFIX + l.name, channels: c, kernelSize: l.kernelSize, strides: l.strides },
                opts,
                rng,
              ),
            );
            this.pretrained.add(dw.kernel);
            ops.push((x, _, ctx) => dw.apply(x, ctx));
            break;
          }
          case 'bn': {
            const bn = layers.bn(TAIL_PREFIX + l.name, c, l.epsilon);
            this.pretrained.add(bn.gamma).add(bn.beta);
            ops.push((x, _, ctx) => bn.apply(x, ctx));
            break;
          }
          case 'relu':
            ops.push((x) => tf.relu(x));
            break;
          case 'relu6':
            ops.push((x) => tf.relu6(x));
            break;
          case 'add':
            ops.push((x, input) => tf.add(x, input));
            break;
        }
      }
      this.blocks.push(ops);
    }
    this.channels = c;
  }

  /** [n, h, w, c] (the cut's output) → the last block's [n, h', w', channels]. */
  apply(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    return tf.tidy(() => {
      let h = x;
      for (const ops of this.blocks) {
        const input = h;
        for (const op of ops) h = op(h, input, ctx);
      }
      return h;
    });
  }
}

/** `params` with the pretrained ones at PRETRAINED_LR_SCALE. */
export function withPretrainedScale(params: Param[], tail: TailBlocks): Param[] {
  return params.map((p) => (tail.pretrained.has(p.variable) ? { ...p, lrScale: PRETRAINED_LR_SCALE } : p));
}

/**
 * Copies the backbone's weights (backbones/tail.ts, Keras names) into the model's blocks; an
 * ensemble's per-member kernels and BatchNorms all start from them.
 */
export function assignPretrained(model: Rank1Model, weights: readonly NamedWeight[]): void {
  const vars = new Map(
    [...model.params().map((p) => p.variable), ...model.state()].map((v) => [logicalName(v), v]),
  );
  for (const w of weights) {
    const v = vars.get(TAIL_PREFIX + w.name);
    if (!v) throw new Error(`fine-tune: the model has no variable for backbone weight "${w.name}"`);
    const size = w.data.length;
    if (v.size % size !== 0 || v.shape.slice(-w.shape.length).join('x') !== w.shape.join('x'))
      throw new Error(`fine-tune: "${w.name}" is [${w.shape}], the model's is [${v.shape}]`);
    tf.tidy(() => {
      const t = tf.tensor(w.data, w.shape);
      v.assign(v.size === size ? tf.reshape(t, v.shape) : tf.broadcastTo(t, v.shape));
    });
  }
}
