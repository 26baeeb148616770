/**
 * The last N blocks of a backbone, read for fine-tuning (issue 16 item 6): where to cut the frozen
 * network (the prefix whose spatial output is cached like an embedding), the blocks' layers as a
 * `FineTuneConfig` (rebuilt as rank-1 layers by models/tail.ts) and their pretrained weights.
 *
 * Blocks are found by Keras Applications' layer names, which both catalog backbones (and any
 * Keras MobileNet v1/v2 export) carry: MobileNet v1 `conv_dw_N`/`conv_pw_N` (depthwise conv +
 * BN + relu6, pointwise conv + BN + relu6), MobileNetV2 `block_N_*` (inverted residual: expand,
 * depthwise, project, the residual Add) and the final `Conv_1` + `Conv_1_bn` + `out_relu`, which
 * counts as a block. Layer kinds and weights are read with the ONNX converter's helpers
 * (onnx/tfjs-layers.ts). Anything else is refused with one line naming the layer.
 */
import * as tf from '@tensorflow/tfjs';
import { MAX_FINE_TUNE_BLOCKS, type FineTuneConfig, type FineTuneLayer } from '../../common/engine.js';
import type { NamedWeight } from '../model-format.js';
import { cfg, pair, weightsOf } from '../onnx/tfjs-layers.js';

export class FineTuneError extends Error {
  override name = 'FineTuneError';
}

export interface BackboneTail {
  /** The frozen prefix: the backbone's input → the cut layer's output (spatial). */
  prefix: tf.LayersModel;
  config: FineTuneConfig;
  /** The blocks' pretrained weights, named `<Keras layer>/<kernel|gamma|beta|moving_mean|moving_variance>`. */
  weights: NamedWeight[];
}

/** Keras Applications block of a layer name: MobileNet v1 and v2 naming. */
export function blockOf(name: string): string | undefined {
  const v1 = /^conv_(?:dw|pw|pad)_(\d+)(?:_|$)/.exec(name);
  if (v1) return `conv_${v1[1]}`;
  const v2 = /^block_(\d+)_/.exec(name);
  if (v2) return `block_${v2[1]}`;
  if (/^Conv_1(?:_bn)?$/.test(name) || name === 'out_relu') return 'Conv_1';
  return undefined;
}

/** The network holding the blocks: nested models (Teachable Machine's `layers[0]`) opened. */
function innerNet(net: tf.LayersModel): tf.LayersModel {
  const own = net.layers.filter((l) => l.getClassName() !== 'InputLayer');
  const nested = own[0];
  if (
    nested instanceof tf.LayersModel &&
    own.slice(1).every((l) => l.getClassName() === 'GlobalAveragePooling2D')
  )
    return innerNet(nested);
  return net;
}

const inbound = (l: tf.layers.Layer): tf.layers.Layer[] => l.inboundNodes[0]?.inboundLayers ?? [];

/** An activation by Keras name as tail ops (linear: none). */
function activationOps(name: string | undefined, layer: tf.layers.Layer): FineTuneLayer[] {
  switch (name ?? 'linear') {
    case 'linear':
      return [];
    case 'relu':
      return [{ op: 'relu' }];
    case 'relu6':
      return [{ op: 'relu6' }];
    default:
      throw new FineTuneError(
        `layer ${layer.name}: activation "${name}" cannot be fine-tuned (relu, relu6 only)`,
      );
  }
}

const floats = (t: tf.Tensor) => Float32Array.from(t.dataSync() as Float32Array);

/** One Keras layer as tail ops, its weights pushed to `weights`. */
function readLayer(layer: tf.layers.Layer, weights: NamedWeight[]): FineTuneLayer[] {
  const cls = layer.getClassName();
  const name = layer.name;
  const w = weightsOf(layer);
  const push = (what: string, t: tf.Tensor) =>
    weights.push({ name: `${name}/${what}`, shape: [...t.shape], data: floats(t) });
  if (cls === 'Conv2D' || cls === 'DepthwiseConv2D') {
    const c = cfg<{
      kernelSize: number | number[];
      strides: number | number[];
      padding: string;
      dilationRate: number | number[];
      useBias: boolean;
      activation: string;
      filters?: number;
      depthMultiplier?: number;
    }>(layer);
    const [kh, kw] = pair(c.kernelSize, 1);
    const [sh, sw] = pair(c.strides, 1);
    const [dh, dw] = pair(c.dilationRate, 1);
    if (kh !== kw || sh !== sw || dh !== 1 || dw !== 1)
      throw new FineTuneError(`layer ${name}: only square, undilated convolutions can be fine-tuned`);
    // 1×1 'valid' = 'same'; larger kernels only with TF's 'same' padding (MobileNets' own).
    if (c.padding !== 'same' && kh !== 1)
      throw new FineTuneError(
        `layer ${name}: ${kh}×${kh} convolution with ${c.padding} padding cannot be fine-tuned`,
      );
    if (c.useBias) throw new FineTuneError(`layer ${name}: convolutions with a bias cannot be fine-tuned`);
    let op: FineTuneLayer;
    if (cls === 'Conv2D') {
      push('kernel', w.get('kernel')!);
      op = { op: 'conv', name, kernelSize: kh, strides: sh, filters: c.filters! };
    } else {
      if ((c.depthMultiplier ?? 1) !== 1)
        throw new FineTuneError(`layer ${name}: depth multiplier ${c.depthMultiplier} cannot be fine-tuned`);
      push('kernel', w.get('depthwise_kernel')!);
      op = { op: 'depthwise', name, kernelSize: kh, strides: sh };
    }
    return [op, ...activationOps(c.activation, layer)];
  }
  if (cls === 'BatchNormalization') {
    const c = cfg<{ axis: number | number[]; epsilon: number }>(layer);
    const axis = Array.isArray(c.axis) ? c.axis[0] : c.axis;
    if (axis !== -1 && axis !== 3)
      throw new FineTuneError(`layer ${name}: BatchNormalization over axis ${axis}`);
    const mean = w.get('moving_mean')!;
    push('gamma', w.get('gamma') ?? tf.onesLike(mean));
    push('beta', w.get('beta') ?? tf.zerosLike(mean));
    push('moving_mean', mean);
    push('moving_variance', w.get('moving_variance')!);
    return [{ op: 'bn', name, epsilon: c.epsilon }];
  }
  if (cls === 'ReLU') {
    const c = cfg<{ maxValue?: number | null; negativeSlope?: number; threshold?: number }>(layer);
    if ((c.negativeSlope ?? 0) !== 0 || (c.threshold ?? 0) !== 0 || (c.maxValue != null && c.maxValue !== 6))
      throw new FineTuneError(`layer ${name}: only ReLU and ReLU6 can be fine-tuned`);
    return [{ op: c.maxValue === 6 ? 'relu6' : 'relu' }];
  }
  if (cls === 'Activation') return activationOps(cfg<{ activation: string }>(layer).activation, layer);
  if (cls === 'Add') return [{ op: 'add' }];
  throw new FineTuneError(`layer ${name}: ${cls} cannot be fine-tuned`);
}

/**
 * Reads the last `blocks` blocks of `net` (the backbone's embedding network). Throws
 * FineTuneError, one line naming the layer, when the network is not made of such blocks.
 */
export function readTail(net: tf.LayersModel, blocks: number, where: string): BackboneTail {
  if (!Number.isInteger(blocks) || blocks < 1 || blocks > MAX_FINE_TUNE_BLOCKS)
    throw new FineTuneError(`${where}: fine-tune blocks must be 1..${MAX_FINE_TUNE_BLOCKS}, got ${blocks}`);
  const inner = innerNet(net);
  let layers = inner.layers.filter((l) => l.getClassName() !== 'InputLayer');
  // The pooling the embedder applies anyway (v1's embedding layer) is not part of a block.
  while (layers.length && layers.at(-1)!.getClassName() === 'GlobalAveragePooling2D')
    layers = layers.slice(0, -1);
  const groups: tf.layers.Layer[][] = [];
  let i = layers.length - 1;
  for (; i >= 0 && groups.length <= blocks; i--) {
    const l = layers[i]!;
    const key = blockOf(l.name);
    if (!key)
      throw new FineTuneError(
        `${where}: fine-tuning reads MobileNet v1/v2 blocks (Keras names conv_dw_N/conv_pw_N, block_N_*, Conv_1); ` +
          `layer "${l.name}" (${l.getClassName()}) is not one`,
      );
    const last = groups[0];
    if (last && blockOf(last[0]!.name) === key) last.unshift(l);
    else if (groups.length === blocks) break;
    else groups.unshift([l]);
  }
  if (groups.length < blocks)
    throw new FineTuneError(`${where}: the backbone has ${groups.length} blocks, fewer than ${blocks}`);
  const first = groups[0]![0]!;
  const cutLayer = inbound(first)[0];
  if (!cutLayer || inbound(first).length !== 1)
    throw new FineTuneError(`${where}: layer "${first.name}" does not read one tensor; cannot cut before it`);
  const shape = cutLayer.outputShape as (number | null)[];
  if (shape.length !== 4 || shape.slice(1).some((d) => d == null))
    throw new FineTuneError(`${where}: the cut "${cutLayer.name}" has no fixed spatial shape`);

  const weights: NamedWeight[] = [];
  const specs: FineTuneLayer[][] = [];
  let blockInput = cutLayer;
  for (const group of groups) {
    const ops: FineTuneLayer[] = [];
    let prev = blockInput;
    for (const l of group) {
      const from = inbound(l);
      const chained =
        l.getClassName() === 'Add'
          ? from.length === 2 && from.includes(prev) && from.includes(blockInput)
          : from.length === 1 && from[0] === prev;
      if (!chained)
        throw new FineTuneError(
          `${where}: layer "${l.name}" reads ${from.map((f) => f.name).join(', ') || 'nothing'}; fine-tuned blocks must be chains (a residual adds only the block input)`,
        );
      ops.push(...readLayer(l, weights));
      prev = l;
    }
    specs.push(ops);
    blockInput = prev;
  }
  const prefix = tf.model({ inputs: inner.inputs, outputs: cutLayer.output as tf.SymbolicTensor });
  return {
    prefix,
    config: {
      blocks,
      cut: cutLayer.name,
      inputShape: [shape[1]!, shape[2]!, shape[3]!],
      layers: specs,
    },
    weights,
  };
}
