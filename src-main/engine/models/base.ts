/**
 * What every architecture shares: the model interface, the factor options taken from the config,
 * and the layer bookkeeping (params, state, KL, dispose written once).
 */
import * as tf from '@tensorflow/tfjs';
import { membersOf } from '../defaults.js';
import type { ModelConfig } from '../types.js';
import { BatchNorm } from '../layers/batchnorm.js';
import type { DepthwiseConv2DRank1 } from '../layers/depthwise.js';
import type { Conv2DRank1, DenseRank1, FactorOptions, ForwardContext, Param } from '../layers/rank1.js';
import type { Rng } from '../random.js';

/** Every rank-1 layer kind (spec §1). */
export type Rank1Layer = DenseRank1 | Conv2DRank1 | DepthwiseConv2DRank1;

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
  /** The rank-1 layers in construction order (the same order in every replica of a config). */
  rank1Layers(): readonly Rank1Layer[];
  /** Non-trainable state saved with the weights (BN moving statistics). */
  state(): tf.Variable[];
  /** The BatchNorm layers in construction order (e.g. for the ONNX export, engine/export). */
  batchNorms(): readonly BatchNorm[];
  /** Input: [K·B, H, W, C] member-major (or [K·B, D] for heads). */
  forward(x: tf.Tensor, ctx: ForwardContext): ForwardResult;
  /** Σ over layers, members and elements of KL(q‖p) (spec §3), not yet divided by N. */
  klDivergence(rng: Rng): tf.Scalar;
  dispose(): void;
}

export function factorOptions(c: ModelConfig): FactorOptions {
  return {
    method: c.method,
    members: membersOf(c),
    dropoutRate: c.dropoutRate,
    posterior: c.posterior,
    randomSignInit: c.randomSignInit,
    priorMean: c.priorMean,
    priorStddev: c.priorStddev,
    initStddev: c.initStddev,
  };
}

/** Collects layers so params/state/KL/dispose are written once. */
export class LayerSet {
  readonly rank1: Rank1Layer[] = [];
  readonly norms: BatchNorm[] = [];
  /** @param bnMembers BatchNorms per layer: K for an ensemble of independent networks, else 1. */
  constructor(private readonly bnMembers = 1) {}
  dense(l: DenseRank1): DenseRank1 {
    this.rank1.push(l);
    return l;
  }
  conv(l: Conv2DRank1): Conv2DRank1 {
    this.rank1.push(l);
    return l;
  }
  depthwise(l: DepthwiseConv2DRank1): DepthwiseConv2DRank1 {
    this.rank1.push(l);
    return l;
  }
  /** @param epsilon default: BatchNorm's (Torch's 1e-5); a pretrained layer keeps its own. */
  bn(name: string, channels: number, epsilon?: number): BatchNorm {
    const b = new BatchNorm(name, channels, undefined, epsilon, this.bnMembers);
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

export abstract class BaseModel implements Rank1Model {
  protected readonly layers: LayerSet;
  protected readonly f: FactorOptions;
  constructor(readonly config: ModelConfig) {
    this.f = factorOptions(config);
    this.layers = new LayerSet(config.method === 'ensemble' ? config.members : 1);
  }
  params(): Param[] {
    return this.layers.params();
  }
  state(): tf.Variable[] {
    return this.layers.state();
  }
  rank1Layers(): readonly Rank1Layer[] {
    return this.layers.rank1;
  }
  batchNorms(): readonly BatchNorm[] {
    return this.layers.norms;
  }
  klDivergence(rng: Rng): tf.Scalar {
    return this.layers.klDivergence(rng);
  }
  dispose(): void {
    this.layers.dispose();
  }
  abstract forward(x: tf.Tensor, ctx: ForwardContext): ForwardResult;
}
