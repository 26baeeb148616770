/**
 * The networks, written like the papers: every conv and the dense head is rank-1 (spec §1,
 * "Which layers are rank-1"), BatchNorm is one ordinary layer shared by all members.
 *
 * - mlp: flatten → DenseRank1(hidden) → ReLU → DenseRank1(classes). Tiny inputs and tests.
 * - cnn: three conv stages (16/32/64) with BN and pooling, DenseRank1(128) and a DenseRank1 head.
 *   The CPU default for small from-scratch datasets.
 * - resnet20: exactly the benchmark model of ../shared/bench/torch_rank1_resnet20.py.
 * - wrn-28-10: the paper's CIFAR model (spec §4), pre-activation blocks, widths 160/320/640.
 * - head: DenseRank1 layers on a frozen backbone's embedding (transfer learning).
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from './types.js';
import { BatchNorm } from './layers/batchnorm.js';
import {
  Conv2DRank1,
  DenseRank1,
  logicalName,
  type FactorOptions,
  type ForwardContext,
  type Param,
} from './layers/rank1.js';
import type { Rng } from './random.js';

export interface ForwardResult {
  logits: tf.Tensor2D;
  /**
   * Features for the distance-based OOD scores: the head's input first (the penultimate layer),
   * then, for the convolutional models, the global average of each earlier stage. Lee et al.
   * (2018) score every layer: the early ones carry the low-level statistics (colour, background,
   * texture) in which far-OOD images differ even when a small model's last layer cannot tell.
   */
  features: tf.Tensor2D;
}

export interface Rank1Model {
  readonly config: ModelConfig;
  /** Trainable parameters with their L2 flag. */
  params(): Param[];
  /** Non-trainable state saved with the weights (BN moving statistics). */
  state(): tf.Variable[];
  /** Input: [K·B, H, W, C] member-major (or [K·B, D] for heads). */
  forward(x: tf.Tensor, ctx: ForwardContext): ForwardResult;
  /** Σ over layers, members and elements of KL(q‖p) (spec §3), not yet divided by N. */
  klDivergence(rng: Rng): tf.Scalar;
  dispose(): void;
}

export function factorOptions(c: ModelConfig): FactorOptions {
  return {
    method: c.method,
    members: c.method === 'deterministic' ? 1 : c.members,
    posterior: c.posterior,
    randomSignInit: c.randomSignInit,
    priorMean: c.priorMean,
    priorStddev: c.priorStddev,
    initStddev: c.initStddev,
  };
}

/** Collects layers so params/state/KL/dispose are written once. */
class LayerSet {
  readonly rank1: (DenseRank1 | Conv2DRank1)[] = [];
  readonly norms: BatchNorm[] = [];
  dense(l: DenseRank1): DenseRank1 {
    this.rank1.push(l);
    return l;
  }
  conv(l: Conv2DRank1): Conv2DRank1 {
    this.rank1.push(l);
    return l;
  }
  bn(name: string, channels: number): BatchNorm {
    const b = new BatchNorm(name, channels);
    this.norms.push(b);
    return b;
  }
  params(): Param[] {
    return [...this.rank1.flatMap((l) => l.params()), ...this.norms.flatMap((b) => b.params())];
  }
  state(): tf.Variable[] {
    return this.norms.flatMap((b) => b.state());
  }
  klDivergence(rng: Rng): tf.Scalar {
    return tf.tidy(() =>
      this.rank1.reduce<tf.Scalar>((acc, l) => tf.add(acc, l.klDivergence(rng)), tf.scalar(0)),
    );
  }
  dispose(): void {
    this.rank1.forEach((l) => l.dispose());
    this.norms.forEach((b) => b.dispose());
  }
}

abstract class BaseModel implements Rank1Model {
  protected readonly layers = new LayerSet();
  protected readonly f: FactorOptions;
  constructor(readonly config: ModelConfig) {
    this.f = factorOptions(config);
  }
  params(): Param[] {
    return this.layers.params();
  }
  state(): tf.Variable[] {
    return this.layers.state();
  }
  klDivergence(rng: Rng): tf.Scalar {
    return this.layers.klDivergence(rng);
  }
  dispose(): void {
    this.layers.dispose();
  }
  abstract forward(x: tf.Tensor, ctx: ForwardContext): ForwardResult;
}

class Mlp extends BaseModel {
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

class SmallCnn extends BaseModel {
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

/** ResNet v1 basic block: conv-BN-ReLU-conv-BN, + (1×1 conv + BN) projection, ReLU. */
class BasicBlock {
  readonly c1: Conv2DRank1;
  readonly b1: BatchNorm;
  readonly c2: Conv2DRank1;
  readonly b2: BatchNorm;
  readonly sc?: { conv: Conv2DRank1; bn: BatchNorm };
  constructor(
    layers: LayerSet,
    name: string,
    cin: number,
    cout: number,
    stride: number,
    f: FactorOptions,
    rng: Rng,
  ) {
    this.c1 = layers.conv(
      new Conv2DRank1(
        { name: `${name}/conv1`, inChannels: cin, filters: cout, kernelSize: 3, strides: stride },
        f,
        rng,
      ),
    );
    this.b1 = layers.bn(`${name}/bn1`, cout);
    this.c2 = layers.conv(
      new Conv2DRank1({ name: `${name}/conv2`, inChannels: cout, filters: cout, kernelSize: 3 }, f, rng),
    );
    this.b2 = layers.bn(`${name}/bn2`, cout);
    if (stride !== 1 || cin !== cout) {
      this.sc = {
        conv: layers.conv(
          new Conv2DRank1(
            { name: `${name}/shortcut`, inChannels: cin, filters: cout, kernelSize: 1, strides: stride },
            f,
            rng,
          ),
        ),
        bn: layers.bn(`${name}/shortcut_bn`, cout),
      };
    }
  }
  apply(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    const h = tf.relu(this.b1.apply(this.c1.apply(x, ctx), ctx));
    const y = this.b2.apply(this.c2.apply(h, ctx), ctx);
    const s = this.sc ? this.sc.bn.apply(this.sc.conv.apply(x, ctx), ctx) : x;
    return tf.relu(tf.add(y, s) as tf.Tensor4D);
  }
}

class ResNet20 extends BaseModel {
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
          new BasicBlock(
            this.layers,
            `stage${s + 1}/block${i + 1}`,
            cin,
            cout!,
            i === 0 ? stride! : 1,
            this.f,
            rng,
          ),
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

/** Pre-activation block (spec §4): BN-ReLU-conv-BN-ReLU-conv, 1×1 rank-1 shortcut on shape change. */
class PreActBlock {
  readonly b1: BatchNorm;
  readonly c1: Conv2DRank1;
  readonly b2: BatchNorm;
  readonly c2: Conv2DRank1;
  readonly sc?: Conv2DRank1;
  constructor(
    layers: LayerSet,
    name: string,
    cin: number,
    cout: number,
    stride: number,
    f: FactorOptions,
    rng: Rng,
  ) {
    this.b1 = layers.bn(`${name}/bn1`, cin);
    this.c1 = layers.conv(
      new Conv2DRank1(
        { name: `${name}/conv1`, inChannels: cin, filters: cout, kernelSize: 3, strides: stride },
        f,
        rng,
      ),
    );
    this.b2 = layers.bn(`${name}/bn2`, cout);
    this.c2 = layers.conv(
      new Conv2DRank1({ name: `${name}/conv2`, inChannels: cout, filters: cout, kernelSize: 3 }, f, rng),
    );
    if (stride !== 1 || cin !== cout) {
      this.sc = layers.conv(
        new Conv2DRank1(
          { name: `${name}/shortcut`, inChannels: cin, filters: cout, kernelSize: 1, strides: stride },
          f,
          rng,
        ),
      );
    }
  }
  apply(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    const a = tf.relu(this.b1.apply(x, ctx));
    const h = this.c2.apply(tf.relu(this.b2.apply(this.c1.apply(a, ctx), ctx)), ctx);
    return tf.add(h, this.sc ? this.sc.apply(a, ctx) : x);
  }
}

class WideResNet extends BaseModel {
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
          new PreActBlock(
            this.layers,
            `group${g + 1}/block${i + 1}`,
            cin,
            cout,
            i === 0 && g > 0 ? 2 : 1,
            this.f,
            rng,
          ),
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

export function buildModel(config: ModelConfig, rng: Rng): Rank1Model {
  switch (config.arch) {
    case 'mlp':
    case 'head':
      return new Mlp(config, rng);
    case 'cnn':
      return new SmallCnn(config, rng);
    case 'resnet20':
      return new ResNet20(config, rng);
    case 'wrn-28-10':
      return new WideResNet(config, rng);
    default:
      throw new Error(`unknown architecture "${String((config as ModelConfig).arch)}"`);
  }
}

/** All tensors that make up the model, by unique name (for saving and loading). */
export function namedVariables(model: Rank1Model): Map<string, tf.Variable> {
  const out = new Map<string, tf.Variable>();
  for (const v of [...model.params().map((p) => p.variable), ...model.state()]) {
    const name = logicalName(v);
    if (out.has(name)) throw new Error(`duplicate variable name ${name}`);
    out.set(name, v);
  }
  return out;
}
