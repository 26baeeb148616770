/**
 * The rank-1 network as ONNX nodes, with all M = S·K effective members batched in the graph.
 *
 * Rows: the image batch [N, …] is tiled to [N·M, …], row n·M + m being effective member m
 * (m = s·K + k, the order of the prediction factors, engine/models/prediction-factors.ts) of image
 * n. Image tensors are NCHW inside the graph. A rank-1 layer applies member m's fixed values as
 * y = ((x ⊙ α̃_m) W) ⊙ γ̃_m + bias_m (spec §1): the rows are viewed as [N, M, …] so the factors
 * [M, …] broadcast, then flattened back for the shared Conv/MatMul. BatchNorm uses the moving
 * statistics (evaluation mode, spec §4). The ensemble baseline's own kernels and BatchNorms run
 * as grouped convolutions / a batched MatMul over an image's M rows. Each architecture's forward
 * pass mirrors its engine/models file; the parity tests (test/engine/export) hold them together.
 */
import * as tf from '@tensorflow/tfjs';
import type { BatchNorm } from '../layers/batchnorm.js';
import { DepthwiseConv2DRank1 } from '../layers/depthwise.js';
import { Conv2DRank1 } from '../layers/rank1.js';
import type { Rank1Layer, Rank1Model } from '../models/index.js';
import { TAIL_PREFIX } from '../models/tail.js';
import type { LayerFactors, PredictionFactors } from '../models/prediction-factors.js';
import { float, type OnnxGraph } from '../onnx/graph.js';
import { convKernel, depthwiseKernel, UnsupportedLayerError } from '../onnx/tfjs-layers.js';

/** A value of the graph with its per-row shape ([C, H, W] for images, [D] for vectors). */
export interface Rows {
  name: string;
  shape: number[];
}

export interface NetworkOutputs {
  /** [N·M, classes] */
  logits: string;
  /** [N·M, D] the OOD features (engine/models/base.ts ForwardResult.features) */
  features: Rows;
}

const floats = (t: tf.Tensor): Float32Array => Float32Array.from(t.dataSync() as Float32Array);

/** Builds the nodes of one model into `g`. */
export class NetworkWriter {
  private readonly factors: Map<string, LayerFactors>;
  private readonly norms: Map<string, BatchNorm>;
  readonly M: number;
  private readonly ensemble: boolean;

  constructor(
    readonly g: OnnxGraph,
    readonly model: Rank1Model,
    f: PredictionFactors,
  ) {
    this.M = f.effectiveMembers;
    // ensemble: K independent kernels and BatchNorms; it has no posterior, so M = K (row m = member m).
    this.ensemble = model.config.method === 'ensemble';
    if (this.ensemble && this.M !== model.config.members)
      throw new UnsupportedLayerError(
        `model: an ensemble with ${this.M} rows per image for ${model.config.members} members`,
      );
    this.factors = new Map(f.layers.map((l) => [l.name, l]));
    this.norms = new Map(model.batchNorms().map((b) => [b.name, b]));
  }

  /** [N, …shape] → [N·M, …shape]: each image repeated for the M effective members. */
  tile(x: Rows): Rows {
    const { g, M } = this;
    const u = g.op('Unsqueeze', [x.name, g.int64s('axis1', [1])]);
    const e = g.op('Expand', [u, g.int64s('members', [1, M, ...x.shape.map(() => 1)])]);
    return { name: g.op('Reshape', [e, g.int64s('rows', [-1, ...x.shape])]), shape: x.shape };
  }

  /** Row-wise x ⊙ v_m (op 'Mul') or x + v_m ('Add'), v [M, C] on the channel (first per-row) axis. */
  private perMember(x: Rows, v: Float32Array, op: 'Mul' | 'Add', what: string): Rows {
    const { g, M } = this;
    const C = x.shape[0]!;
    const tail = x.shape.slice(1).map(() => 1);
    const t = g.initializer(what, v, [M, C, ...tail]);
    const viewed = g.op('Reshape', [x.name, g.int64s('member_view', [-1, M, ...x.shape])]);
    const y = g.op(op, [viewed, t]);
    return { name: g.op('Reshape', [y, g.int64s('rows', [-1, ...x.shape])]), shape: x.shape };
  }

  private layer<T extends Rank1Layer>(name: string): T {
    const l = this.model.rank1Layers().find((r) => r.name === name);
    if (!l) throw new UnsupportedLayerError(`layer ${name}: not in the model`);
    return l as T;
  }

  /** The rank-1 input/output factors and bias around `core` (spec §1). */
  private rank1(l: Rank1Layer, x: Rows, core: (h: Rows) => Rows): Rows {
    const f = this.factors.get(l.name);
    let h = x;
    if (f) h = this.perMember(h, f.alpha, 'Mul', `${l.name}/alpha`);
    h = core(h);
    if (f && (l.alpha || l.gamma)) h = this.perMember(h, f.gamma, 'Mul', `${l.name}/gamma`);
    if (l.bias) {
      const bias = f?.bias ?? tileRows(floats(l.bias), l.bias.shape[0]!, this.M);
      h = this.perMember(h, bias, 'Add', `${l.name}/bias`);
    }
    return h;
  }

  /** Conv2DRank1 with 'same' padding (TF's: the odd pixel at the end = SAME_UPPER). */
  conv(name: string, x: Rows): Rows {
    const l = this.layer<Conv2DRank1>(name);
    if (!(l instanceof Conv2DRank1)) throw new UnsupportedLayerError(`layer ${name}: not a convolution`);
    return this.rank1(l, x, (h) => {
      const [C, H, W] = h.shape as [number, number, number];
      const out = [l.units, Math.ceil(H / l.strides), Math.ceil(W / l.strides)];
      const attrs = {
        kernel_shape: [l.kernelSize, l.kernelSize],
        strides: [l.strides, l.strides],
        auto_pad: 'SAME_UPPER',
      };
      if (!this.ensemble) {
        const k = convKernel(l.kernel);
        const y = this.g.op('Conv', [h.name, this.g.initializer(`${name}/kernel`, k.data, k.dims)], attrs);
        return { name: y, shape: out };
      }
      // Member m's rows through kernel m: the rows of an image side by side as channel groups.
      const kernels = tf.unstack(l.kernel).map((t) => {
        const k = convKernel(t);
        t.dispose();
        return k;
      });
      const data = new Float32Array(kernels.reduce((a, k) => a + k.data.length, 0));
      kernels.forEach((k, m) => data.set(k.data, m * k.data.length));
      const dims = [this.M * l.units, ...kernels[0]!.dims.slice(1)];
      const grouped = this.g.op('Reshape', [h.name, this.g.int64s('groups', [-1, this.M * C, H, W])]);
      const y = this.g.op('Conv', [grouped, this.g.initializer(`${name}/kernel`, data, dims)], {
        ...attrs,
        group: this.M,
      });
      return { name: this.g.op('Reshape', [y, this.g.int64s('rows', [-1, ...out])]), shape: out };
    });
  }

  dense(name: string, x: Rows): Rows {
    const l = this.layer(name);
    if (x.shape.length !== 1 || x.shape[0] !== l.inputDim)
      throw new UnsupportedLayerError(`layer ${name}: expects ${l.inputDim} inputs, got [${x.shape}]`);
    return this.rank1(l, x, (h) => {
      if (!this.ensemble) {
        const w = this.g.initializer(`${name}/kernel`, floats(l.kernel), [l.inputDim, l.units]);
        return { name: this.g.op('MatMul', [h.name, w]), shape: [l.units] };
      }
      // [N, M, 1, in] × [M, in, units]: member m's rows through kernel m.
      const w = this.g.initializer(`${name}/kernel`, floats(l.kernel), [this.M, l.inputDim, l.units]);
      const v = this.g.op('Reshape', [h.name, this.g.int64s('member_view', [-1, this.M, 1, l.inputDim])]);
      const y = this.g.op('MatMul', [v, w]);
      return { name: this.g.op('Reshape', [y, this.g.int64s('rows', [-1, l.units])]), shape: [l.units] };
    });
  }

  /**
   * DepthwiseConv2DRank1 (layers/depthwise.ts): a Conv with one group per channel, TF's 'same'
   * (SAME_UPPER) or 'valid' padding; an ensemble's M kernels as M·C groups over an image's rows.
   */
  depthwise(name: string, x: Rows): Rows {
    const l = this.layer(name);
    if (!(l instanceof DepthwiseConv2DRank1))
      throw new UnsupportedLayerError(`layer ${name}: not a depthwise convolution`);
    return this.rank1(l, x, (h) => {
      const [C, H, W] = h.shape as [number, number, number];
      const k = l.kernelSize;
      const size = (s: number) =>
        l.padding === 'same' ? Math.ceil(s / l.strides) : Math.floor((s - k) / l.strides) + 1;
      const out = [C, size(H), size(W)];
      const attrs = {
        kernel_shape: [k, k],
        strides: [l.strides, l.strides],
        auto_pad: l.padding === 'same' ? 'SAME_UPPER' : 'VALID',
      };
      const kernels = this.ensemble ? tf.unstack(l.kernel) : [l.kernel];
      const parts = kernels.map((t) => depthwiseKernel(t));
      if (this.ensemble) kernels.forEach((t) => t.dispose());
      const data = new Float32Array(parts.reduce((a, p) => a + p.data.length, 0));
      parts.forEach((p, m) => data.set(p.data, m * p.data.length));
      const groups = parts.length * C;
      const input = this.ensemble
        ? this.g.op('Reshape', [h.name, this.g.int64s('groups', [-1, groups, H, W])])
        : h.name;
      const y = this.g.op('Conv', [input, this.g.initializer(`${name}/kernel`, data, [groups, 1, k, k])], {
        ...attrs,
        group: groups,
      });
      const rows = this.ensemble ? this.g.op('Reshape', [y, this.g.int64s('rows', [-1, ...out])]) : y;
      return { name: rows, shape: out };
    });
  }

  /** Evaluation-mode BatchNorm: (x − μ)·γ/√(σ² + ε) + β over the channel axis. */
  bn(name: string, x: Rows): Rows {
    const b = this.norms.get(name);
    if (!b) throw new UnsupportedLayerError(`layer ${name}: not in the model`);
    if (b.members > 1 && b.members !== this.M)
      throw new UnsupportedLayerError(`layer ${name}: ${b.members} BatchNorms for ${this.M} rows per image`);
    const { g } = this;
    // Per-member BatchNorms (ensemble): [K, C] parameters over the image's rows side by side.
    const C = b.channels * b.members;
    const init = (what: string, v: tf.Tensor) => g.initializer(`${name}/${what}`, floats(v), [C]);
    if (x.shape.length === 3) {
      const [, H, W] = x.shape as [number, number, number];
      const grouped = b.members > 1 ? g.op('Reshape', [x.name, g.int64s('groups', [-1, C, H, W])]) : x.name;
      const y = g.op(
        'BatchNormalization',
        [
          grouped,
          init('gamma', b.gamma),
          init('beta', b.beta),
          init('mean', b.movingMean),
          init('var', b.movingVariance),
        ],
        { epsilon: float(b.epsilon) },
      );
      const rows = b.members > 1 ? g.op('Reshape', [y, g.int64s('rows', [-1, ...x.shape])]) : y;
      return { name: rows, shape: x.shape };
    }
    throw new UnsupportedLayerError(`layer ${name}: BatchNorm on a rank-${x.shape.length + 1} tensor`);
  }

  relu(x: Rows): Rows {
    return { name: this.g.op('Relu', [x.name]), shape: x.shape };
  }

  relu6(x: Rows): Rows {
    const lo = this.g.initializer('relu6/min', Float32Array.of(0), []);
    const hi = this.g.initializer('relu6/max', Float32Array.of(6), []);
    return { name: this.g.op('Clip', [x.name, lo, hi]), shape: x.shape };
  }

  add(a: Rows, b: Rows): Rows {
    return { name: this.g.op('Add', [a.name, b.name]), shape: a.shape };
  }

  /** TF 'same' max pooling (padding never wins a max) or 'valid' average pooling. */
  pool(
    x: Rows,
    op: 'MaxPool' | 'AveragePool',
    size: number,
    stride: number,
    padding: 'same' | 'valid',
  ): Rows {
    const [C, H, W] = x.shape as [number, number, number];
    if (op === 'AveragePool' && padding === 'same')
      throw new UnsupportedLayerError(`AveragePool with 'same' padding has no ONNX export here`);
    const out = (s: number) =>
      padding === 'same' ? Math.ceil(s / stride) : Math.floor((s - size) / stride) + 1;
    const y = this.g.op(op, [x.name], {
      kernel_shape: [size, size],
      strides: [stride, stride],
      auto_pad: padding === 'same' ? 'SAME_UPPER' : 'VALID',
    });
    return { name: y, shape: [C, out(H), out(W)] };
  }

  /** Global average over H, W: [C, H, W] → [C] (tf.mean(h, [1, 2]) in NHWC). */
  spatialMean(x: Rows): Rows {
    return { name: this.g.op('ReduceMean', [x.name], { axes: [2, 3], keepdims: 0 }), shape: [x.shape[0]!] };
  }

  /** NCHW rows flattened in TF.js's NHWC order (tf.reshape(h, [rows, -1])). */
  flattenNhwc(x: Rows): Rows {
    const t = this.g.op('Transpose', [x.name], { perm: [0, 2, 3, 1] });
    const size = x.shape.reduce((a, b) => a * b, 1);
    return { name: this.g.op('Flatten', [t], { axis: 1 }), shape: [size] };
  }

  concat(parts: Rows[]): Rows {
    const size = parts.reduce((a, p) => a + p.shape[0]!, 0);
    return {
      name: this.g.op(
        'Concat',
        parts.map((p) => p.name),
        { axis: 1 },
      ),
      shape: [size],
    };
  }
}

/** Per-member bias [K, units] → [M, units]: row m = s·K + k is member k's. */
function tileRows(bias: Float32Array, K: number, M: number): Float32Array {
  const units = bias.length / K;
  const out = new Float32Array(M * units);
  for (let m = 0; m < M; m++) out.set(bias.subarray((m % K) * units, ((m % K) + 1) * units), m * units);
  return out;
}

/**
 * The architecture's forward pass on tiled rows: `x` is [N·M, C, H, W] normalised pixels for the
 * convolutional models, [N·M, D] for mlp (flattened NHWC pixels) and head (backbone embedding),
 * [N·M, C, H, W] for a fine-tuned head (the backbone's cut map).
 */
export function writeForward(w: NetworkWriter, x: Rows): NetworkOutputs {
  const arch = w.model.config.arch;
  switch (arch) {
    case 'mlp':
    case 'head': {
      if (w.model.config.fineTune) return fineTuned(w, x);
      const features = w.relu(w.dense('dense1', x));
      return { features, logits: w.dense('head', features).name };
    }
    case 'cnn':
      return cnn(w, x);
    case 'resnet20':
      return resnet20(w, x);
    case 'wrn-28-10':
      return wrn(w, x);
    default:
      throw new UnsupportedLayerError(`model: architecture "${String(arch)}" has no ONNX export`);
  }
}

/** engine/models/mlp.ts Mlp.forward with fine-tuned blocks (models/tail.ts TailBlocks.apply). */
function fineTuned(w: NetworkWriter, x: Rows): NetworkOutputs {
  let h = x;
  for (const block of w.model.config.fineTune!.layers) {
    const input = h;
    for (const l of block) {
      if (l.op === 'conv') h = w.conv(TAIL_PREFIX + l.name, h);
      else if (l.op === 'depthwise') h = w.depthwise(TAIL_PREFIX + l.name, h);
      else if (l.op === 'bn') h = w.bn(TAIL_PREFIX + l.name, h);
      else if (l.op === 'relu') h = w.relu(h);
      else if (l.op === 'relu6') h = w.relu6(h);
      else h = w.add(h, input);
    }
  }
  const pooled = w.spatialMean(h);
  const features = w.relu(w.dense('dense1', pooled));
  return { features: w.concat([features, pooled]), logits: w.dense('head', features).name };
}

/** engine/models/cnn.ts SmallCnn.forward */
function cnn(w: NetworkWriter, x: Rows): NetworkOutputs {
  let h = x;
  const stemPool = Math.max(1, Math.floor(w.model.config.inputShape[0] / 32));
  if (stemPool > 1) h = w.pool(h, 'AveragePool', stemPool, stemPool, 'valid');
  const convs = w.model.rank1Layers().filter((l) => l instanceof Conv2DRank1);
  const pooled: Rows[] = [];
  convs.forEach((c, i) => {
    h = w.relu(w.bn(`bn${i + 1}`, w.conv(c.name, h)));
    pooled.push(w.spatialMean(h));
    if (i < convs.length - 1) h = w.pool(h, 'MaxPool', 2, 2, 'same');
  });
  const penultimate = w.relu(w.dense('dense1', w.flattenNhwc(h)));
  return { features: w.concat([penultimate, ...pooled]), logits: w.dense('head', penultimate).name };
}

/** engine/models/resnet20.ts ResNet20.forward */
function resnet20(w: NetworkWriter, x: Rows): NetworkOutputs {
  let h = w.relu(w.bn('stem_bn', w.conv('stem', x)));
  if (w.model.config.inputShape[0] > 96) h = w.pool(h, 'MaxPool', 3, 2, 'same');
  const pooled = [w.spatialMean(h)];
  let i = 0;
  for (let s = 1; s <= 3; s++)
    for (let b = 1; b <= 3; b++, i++) {
      const name = `stage${s}/block${b}`;
      const y = w.bn(
        `${name}/bn2`,
        w.conv(`${name}/conv2`, w.relu(w.bn(`${name}/bn1`, w.conv(`${name}/conv1`, h)))),
      );
      const hasShortcut = w.model.rank1Layers().some((l) => l.name === `${name}/shortcut`);
      const sc = hasShortcut ? w.bn(`${name}/shortcut_bn`, w.conv(`${name}/shortcut`, h)) : h;
      h = w.relu(w.add(y, sc));
      if (i === 2 || i === 5) pooled.push(w.spatialMean(h));
    }
  const penultimate = w.spatialMean(h);
  return { features: w.concat([penultimate, ...pooled]), logits: w.dense('head', penultimate).name };
}

/** engine/models/wrn.ts WideResNet.forward (pre-activation blocks). */
function wrn(w: NetworkWriter, x: Rows): NetworkOutputs {
  let h = w.conv('stem', x);
  const names = w.model.rank1Layers().map((l) => l.name);
  const blocks = [
    ...new Set(names.filter((n) => n.startsWith('group')).map((n) => n.split('/').slice(0, 2).join('/'))),
  ];
  for (const name of blocks) {
    const a = w.relu(w.bn(`${name}/bn1`, h));
    const y = w.conv(`${name}/conv2`, w.relu(w.bn(`${name}/bn2`, w.conv(`${name}/conv1`, a))));
    h = w.add(y, names.includes(`${name}/shortcut`) ? w.conv(`${name}/shortcut`, a) : h);
  }
  const finalBn = w.model.batchNorms().at(-1)!.name;
  const features = w.spatialMean(w.relu(w.bn(finalBn, h)));
  return { features, logits: w.dense('head', features).name };
}
