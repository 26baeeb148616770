/**
 * TF.js LayersModel → ONNX nodes, layer by layer, with the graph writer (graph.ts). Used for frozen
 * backbones (issue 18) and by the export of transfer models (issue 17).
 *
 * Layout: TF.js image tensors are NHWC, ONNX's Conv/Pool/BatchNormalization are NCHW. Every rank-4
 * value is kept in NCHW inside the graph (kernels are transposed once, at conversion); other ranks
 * are kept as TF.js has them. Layers that look at the layout (Reshape, Flatten) transpose back first.
 *
 *   const g = new OnnxGraph('backbone');
 *   const x = g.input('x', [BATCH, 224, 224, 3]);                 // NHWC, as TF.js takes it
 *   const [y] = convertLayersModel(g, net, [fromNhwc(g, x)]);
 *   g.output(toPlain(g, y), [BATCH, 256]);
 *
 * Supported: InputLayer, Conv2D, DepthwiseConv2D, Dense, BatchNormalization, Activation and fused
 * activations (linear, relu, relu6, sigmoid, tanh, softmax, elu, selu, softplus, softsign,
 * hard_sigmoid, swish), ReLU (maxValue), LeakyReLU, ZeroPadding2D, Add, Multiply, Concatenate,
 * GlobalAverage/MaxPooling2D, Max/AveragePooling2D (valid padding), Reshape, Flatten, Dropout and
 * SpatialDropout (identity), nested models (functional or Sequential). Anything else throws
 * UnsupportedLayerError naming the layer, so a caller can fall back to TF.js.
 */
import * as tf from '@tensorflow/tfjs';
import { float, type OnnxGraph } from './graph.js';

/** A value of the graph: its name and whether it is an NCHW copy of a rank-4 NHWC tensor. */
export interface Value {
  name: string;
  rank: number;
  nchw: boolean;
}

export class UnsupportedLayerError extends Error {
  override name = 'UnsupportedLayerError';
}

/** A graph input in TF.js's NHWC layout, transposed to NCHW for the converted layers. */
export function fromNhwc(g: OnnxGraph, name: string): Value {
  return { name: g.op('Transpose', [name], { perm: [0, 3, 1, 2] }), rank: 4, nchw: true };
}

/** A value in TF.js's own layout (NHWC for rank 4), e.g. for a graph output. */
export function toPlain(g: OnnxGraph, v: Value): string {
  return v.nchw ? g.op('Transpose', [v.name], { perm: [0, 2, 3, 1] }) : v.name;
}

/** Rank-4 NCHW image features → [N, C] by global average pooling (what the embedders do). */
export function globalAveragePool(g: OnnxGraph, v: Value): Value {
  if (v.rank !== 4) return v;
  const axes = v.nchw ? [2, 3] : [1, 2];
  return { name: g.op('ReduceMean', [v.name], { axes, keepdims: 0 }), rank: 2, nchw: false };
}

interface Ctx {
  g: OnnxGraph;
  layer: tf.layers.Layer;
}

export function weightsOf(layer: tf.layers.Layer): Map<string, tf.Tensor> {
  // Keyed by the weight's own name without scope ("kernel", "gamma", "moving_mean", ...).
  const out = new Map<string, tf.Tensor>();
  const vals = layer.getWeights();
  layer.weights.forEach((w, i) => {
    const short = (w.originalName ?? w.name).split('/').pop()!.replace(/_\d+$/, '');
    out.set(short, vals[i]!);
  });
  return out;
}

function floats(t: tf.Tensor): Float32Array {
  return Float32Array.from(t.dataSync() as Float32Array);
}

export function cfg<T>(layer: tf.layers.Layer): T {
  return layer.getConfig() as T;
}

/** TF.js kernel [kh, kw, cin, cout] → ONNX [cout, cin, kh, kw]. */
export function convKernel(t: tf.Tensor): { data: Float32Array; dims: number[] } {
  const [kh, kw, cin, cout] = t.shape as [number, number, number, number];
  const src = floats(t);
  const data = new Float32Array(src.length);
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let c = 0; c < cin; c++)
        for (let o = 0; o < cout; o++)
          data[((o * cin + c) * kh + i) * kw + j] = src[((i * kw + j) * cin + c) * cout + o]!;
  return { data, dims: [cout, cin, kh, kw] };
}

/** TF.js depthwise kernel [kh, kw, cin, mult] → ONNX grouped [cin·mult, 1, kh, kw] (group = cin). */
export function depthwiseKernel(t: tf.Tensor): { data: Float32Array; dims: number[]; cin: number } {
  const [kh, kw, cin, mult] = t.shape as [number, number, number, number];
  const src = floats(t);
  const data = new Float32Array(src.length);
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let c = 0; c < cin; c++)
        for (let m = 0; m < mult; m++)
          data[((c * mult + m) * kh + i) * kw + j] = src[((i * kw + j) * cin + c) * mult + m]!;
  return { data, dims: [cin * mult, 1, kh, kw], cin };
}

export const pair = (v: number | number[] | undefined, d: number): [number, number] =>
  v === undefined ? [d, d] : Array.isArray(v) ? [v[0]!, v[1] ?? v[0]!] : [v, v];

/** An activation by its Keras name, applied to `v` (channel axis for softmax follows the layout). */
function activation(ctx: Ctx, v: Value, name: string | undefined): Value {
  const { g } = ctx;
  const op = (type: string, attrs = {}) => ({ ...v, name: g.op(type, [v.name], attrs) });
  switch (name ?? 'linear') {
    case 'linear':
      return v;
    case 'relu':
      return op('Relu');
    case 'relu6':
      return clip(g, v, 0, 6);
    case 'sigmoid':
      return op('Sigmoid');
    case 'tanh':
      return op('Tanh');
    case 'softmax':
      return op('Softmax', { axis: v.nchw ? 1 : -1 });
    case 'elu':
      return op('Elu', { alpha: float(1) });
    case 'selu':
      return op('Selu');
    case 'softplus':
      return op('Softplus');
    case 'softsign':
      return op('Softsign');
    case 'hardSigmoid':
    case 'hard_sigmoid':
      return op('HardSigmoid', { alpha: float(0.2), beta: float(0.5) });
    case 'swish':
      return { ...v, name: g.op('Mul', [v.name, g.op('Sigmoid', [v.name])]) };
    default:
      throw new UnsupportedLayerError(`layer ${ctx.layer.name}: activation "${name}" has no ONNX conversion`);
  }
}

function clip(g: OnnxGraph, v: Value, lo: number, hi: number): Value {
  const min = g.initializer('clip_min', Float32Array.of(lo), []);
  const max = g.initializer('clip_max', Float32Array.of(hi), []);
  return { ...v, name: g.op('Clip', [v.name, min, max]) };
}

/** 'same' and 'valid' as ONNX auto_pad (SAME_UPPER puts the odd pixel at the end, as TF does). */
const autoPad = (padding: string) => (padding === 'same' ? 'SAME_UPPER' : 'VALID');

function addBias(ctx: Ctx, v: Value, bias: tf.Tensor | undefined): Value {
  if (!bias) return v;
  const c = bias.size;
  const dims = v.nchw ? [1, c, 1, 1] : [c];
  const b = ctx.g.initializer(`${ctx.layer.name}_bias`, floats(bias), dims);
  return { ...v, name: ctx.g.op('Add', [v.name, b]) };
}

type Converter = (ctx: Ctx, inputs: Value[]) => Value;

const one = (inputs: Value[]): Value => inputs[0]!;

function needNchw(ctx: Ctx, v: Value): void {
  if (!v.nchw) throw new UnsupportedLayerError(`layer ${ctx.layer.name}: expects a rank-4 image tensor`);
}

/** Conv2D and DepthwiseConv2D: an ONNX Conv with the layer's kernel, bias and activation. */
function convolution(
  ctx: Ctx,
  inputs: Value[],
  kernelOf: (w: ReturnType<typeof weightsOf>) => { data: Float32Array; dims: number[]; cin?: number },
  depthwise = false,
): Value {
  const x = one(inputs);
  needNchw(ctx, x);
  const c = cfg<{
    strides: number[];
    padding: string;
    dilationRate: number | number[];
    activation: string;
  }>(ctx.layer);
  const w = weightsOf(ctx.layer);
  const k = kernelOf(w);
  const kernel = ctx.g.initializer(`${ctx.layer.name}_kernel`, k.data, k.dims);
  const y = ctx.g.op('Conv', [x.name, kernel], {
    kernel_shape: k.dims.slice(2),
    strides: pair(c.strides, 1),
    dilations: pair(c.dilationRate, 1),
    ...(depthwise ? { group: k.cin } : {}),
    auto_pad: autoPad(c.padding),
  });
  return activation(ctx, addBias(ctx, { ...x, name: y }, w.get('bias')), c.activation);
}

const CONVERTERS: Record<string, Converter> = {
  Conv2D: (ctx, inputs) => convolution(ctx, inputs, (w) => convKernel(w.get('kernel')!)),
  // A depthwise convolution is a Conv with one group per input channel.
  DepthwiseConv2D: (ctx, inputs) =>
    convolution(ctx, inputs, (w) => depthwiseKernel(w.get('depthwise_kernel')!), true),
  Dense(ctx, inputs) {
    const x = one(inputs);
    if (x.nchw || x.rank !== 2)
      throw new UnsupportedLayerError(`layer ${ctx.layer.name}: Dense on a rank-${x.rank} tensor`);
    const w = weightsOf(ctx.layer);
    const kernel = w.get('kernel')!;
    const k = ctx.g.initializer(`${ctx.layer.name}_kernel`, floats(kernel), kernel.shape);
    const y = ctx.g.op('MatMul', [x.name, k]);
    return activation(
      ctx,
      addBias(ctx, { ...x, name: y }, w.get('bias')),
      cfg<{ activation: string }>(ctx.layer).activation,
    );
  },
  BatchNormalization(ctx, inputs) {
    const x = one(inputs);
    const c = cfg<{ axis: number | number[]; epsilon: number }>(ctx.layer);
    const axis = Array.isArray(c.axis) ? c.axis[0] : c.axis;
    if (axis !== -1 && axis !== x.rank - 1)
      throw new UnsupportedLayerError(`layer ${ctx.layer.name}: BatchNormalization over axis ${axis}`);
    const w = weightsOf(ctx.layer);
    const mean = floats(w.get('moving_mean')!);
    const variance = floats(w.get('moving_variance')!);
    const n = mean.length;
    const gamma = w.get('gamma') ? floats(w.get('gamma')!) : new Float32Array(n).fill(1);
    const beta = w.get('beta') ? floats(w.get('beta')!) : new Float32Array(n);
    if (x.nchw) {
      const name = ctx.layer.name;
      const y = ctx.g.op(
        'BatchNormalization',
        [
          x.name,
          ctx.g.initializer(`${name}_gamma`, gamma, [n]),
          ctx.g.initializer(`${name}_beta`, beta, [n]),
          ctx.g.initializer(`${name}_mean`, mean, [n]),
          ctx.g.initializer(`${name}_var`, variance, [n]),
        ],
        { epsilon: float(c.epsilon) },
      );
      return { ...x, name: y };
    }
    // Channels last (rank 2): y = x·scale + shift, with scale = γ/√(σ²+ε) and shift = β − μ·scale.
    const scale = gamma.map((gm, i) => gm / Math.sqrt(variance[i]! + c.epsilon));
    const shift = beta.map((b, i) => b - mean[i]! * scale[i]!);
    const mul = ctx.g.op('Mul', [x.name, ctx.g.initializer(`${ctx.layer.name}_scale`, scale, [n])]);
    return { ...x, name: ctx.g.op('Add', [mul, ctx.g.initializer(`${ctx.layer.name}_shift`, shift, [n])]) };
  },
  Activation(ctx, inputs) {
    return activation(ctx, one(inputs), cfg<{ activation: string }>(ctx.layer).activation);
  },
  ReLU(ctx, inputs) {
    const x = one(inputs);
    const c = cfg<{ maxValue?: number | null; negativeSlope?: number; threshold?: number }>(ctx.layer);
    if ((c.negativeSlope ?? 0) !== 0 || (c.threshold ?? 0) !== 0)
      throw new UnsupportedLayerError(`layer ${ctx.layer.name}: ReLU with a slope or threshold`);
    return c.maxValue != null ? clip(ctx.g, x, 0, c.maxValue) : { ...x, name: ctx.g.op('Relu', [x.name]) };
  },
  LeakyReLU(ctx, inputs) {
    const x = one(inputs);
    return {
      ...x,
      name: ctx.g.op('LeakyRelu', [x.name], { alpha: float(cfg<{ alpha: number }>(ctx.layer).alpha) }),
    };
  },
  ZeroPadding2D(ctx, inputs) {
    const x = one(inputs);
    needNchw(ctx, x);
    const p = cfg<{ padding: [[number, number], [number, number]] }>(ctx.layer).padding;
    const pads = ctx.g.int64s(`${ctx.layer.name}_pads`, [0, 0, p[0][0], p[1][0], 0, 0, p[0][1], p[1][1]]);
    return { ...x, name: ctx.g.op('Pad', [x.name, pads], { mode: 'constant' }) };
  },
  Add: (ctx, inputs) => ({
    ...inputs[0]!,
    name: inputs.slice(1).reduce((a, b) => ctx.g.op('Add', [a, b.name]), inputs[0]!.name),
  }),
  Multiply: (ctx, inputs) => ({
    ...inputs[0]!,
    name: inputs.slice(1).reduce((a, b) => ctx.g.op('Mul', [a, b.name]), inputs[0]!.name),
  }),
  Concatenate(ctx, inputs) {
    const x = inputs[0]!;
    const axis = cfg<{ axis: number }>(ctx.layer).axis;
    const a = axis < 0 ? x.rank + axis : axis;
    const onnxAxis = x.nchw ? [0, 2, 3, 1][a]! : a;
    return {
      ...x,
      name: ctx.g.op(
        'Concat',
        inputs.map((v) => v.name),
        { axis: onnxAxis },
      ),
    };
  },
  GlobalAveragePooling2D: (ctx, inputs) => {
    const x = one(inputs);
    needNchw(ctx, x);
    return globalAveragePool(ctx.g, x);
  },
  GlobalMaxPooling2D: (ctx, inputs) => {
    const x = one(inputs);
    needNchw(ctx, x);
    return { name: ctx.g.op('ReduceMax', [x.name], { axes: [2, 3], keepdims: 0 }), rank: 2, nchw: false };
  },
  MaxPooling2D: (ctx, inputs) => pool(ctx, one(inputs), 'MaxPool'),
  AveragePooling2D: (ctx, inputs) => pool(ctx, one(inputs), 'AveragePool'),
  Reshape(ctx, inputs) {
    const x = one(inputs);
    const target = cfg<{ targetShape: number[] }>(ctx.layer).targetShape;
    const shape = ctx.g.int64s(`${ctx.layer.name}_shape`, [0, ...target]);
    const y = ctx.g.op('Reshape', [toPlain(ctx.g, x), shape]);
    const v = { name: y, rank: target.length + 1, nchw: false };
    return v.rank === 4 ? fromNhwc(ctx.g, v.name) : v;
  },
  Flatten(ctx, inputs) {
    const x = one(inputs);
    const y = ctx.g.op('Flatten', [toPlain(ctx.g, x)], { axis: 1 });
    return { name: y, rank: 2, nchw: false };
  },
  Dropout: (_ctx, inputs) => one(inputs),
  SpatialDropout1D: (_ctx, inputs) => one(inputs),
  SpatialDropout2D: (_ctx, inputs) => one(inputs),
};

function pool(ctx: Ctx, x: Value, op: 'MaxPool' | 'AveragePool'): Value {
  needNchw(ctx, x);
  const c = cfg<{ poolSize: number | number[]; strides?: number | number[] | null; padding: string }>(
    ctx.layer,
  );
  // TF's 'same' average pooling divides by the valid count; ONNX's SAME_UPPER does too
  // (count_include_pad 0), but stay with what is exercised: valid padding.
  if (c.padding !== 'valid')
    throw new UnsupportedLayerError(`layer ${ctx.layer.name}: ${op} with padding ${c.padding}`);
  const size = pair(c.poolSize, 2);
  return {
    ...x,
    name: ctx.g.op(op, [x.name], { kernel_shape: size, strides: pair(c.strides ?? undefined, size[0]) }),
  };
}

/** The symbolic tensor ids of a node's inputs/outputs (tfjs keeps them on `Node`). */
interface TfNode {
  inputTensors: tf.SymbolicTensor[];
  outputTensors: tf.SymbolicTensor[];
}

/**
 * Converts a LayersModel applied to `inputs` (one Value per model input) into nodes of `g`;
 * returns one Value per model output. Nested models are converted in place.
 */
export function convertLayersModel(g: OnnxGraph, model: tf.LayersModel, inputs: Value[]): Value[] {
  const values = new Map<number, Value>();
  model.inputs.forEach((t, i) => values.set(t.id, inputs[i]!));
  const pending = model.layers.filter((l) => l.getClassName() !== 'InputLayer');
  // Layers are listed in topological order; a node is converted once all its inputs have values.
  for (const layer of pending) {
    for (const node of layer.inboundNodes as unknown as TfNode[]) {
      if (!node.inputTensors.every((t) => values.has(t.id))) continue;
      if (node.outputTensors.every((t) => values.has(t.id))) continue;
      const ins = node.inputTensors.map((t) => values.get(t.id)!);
      const outs = convertLayer(g, layer, ins);
      node.outputTensors.forEach((t, i) => values.set(t.id, outs[i]!));
    }
  }
  return model.outputs.map((t) => {
    const v = values.get(t.id);
    if (!v) throw new UnsupportedLayerError(`model ${model.name}: output ${t.name} could not be reached`);
    return v;
  });
}

function convertLayer(g: OnnxGraph, layer: tf.layers.Layer, inputs: Value[]): Value[] {
  if (layer instanceof tf.LayersModel) return convertLayersModel(g, layer, inputs);
  const convert = CONVERTERS[layer.getClassName()];
  if (!convert)
    throw new UnsupportedLayerError(`layer ${layer.name}: ${layer.getClassName()} has no ONNX conversion`);
  return [convert({ g, layer }, inputs)];
}
