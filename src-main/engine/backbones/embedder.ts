/**
 * A loaded TF.js model turned into a frozen feature extractor: uint8 HWC images of any stored size
 * → resize in-graph to the model's input (bilinear, half-pixel centres), grey tiled to RGB, scaled
 * to [-1, 1] (the MobileNet convention) → the embedding output, global-average-pooled if spatial.
 */
import * as tf from '@tensorflow/tfjs';
import { weightsFingerprint } from './fingerprint.js';
import { folderHandler, isGraphModel, type ModelFolder } from './model-files.js';

/**
 * Embedding spec of a built-in backbone that may come packaged two ways: the nested network of a
 * Teachable Machine export (`layers[0]`), or the plain `no_top` network itself, whose spatial output
 * is then average-pooled like every other spatial embedding.
 */
export const NESTED_OR_WHOLE = 'layers[0]';

/** Images per forward pass: large enough to amortise kernel dispatch, small enough for 224² × 3 floats. */
export const EMBED_BATCH = 32;

export interface Embedder {
  /**
   * The output used as the embedding, as given or as chosen by default (a layer name, `layers[i]`
   * for a nested model); undefined: the graph model's own output.
   */
  readonly output?: string;
  readonly inputSize: number;
  readonly embeddingSize: number;
  /** What runs it: 'tfjs' here; 'onnxruntime' for the ONNX Runtime embedder (onnx-embedder.ts). */
  readonly backend: string;
  /** The TF.js network from the input to the embedding (layers models), e.g. for conversion to ONNX. */
  readonly net?: tf.LayersModel;
  /** `weightsFingerprint` of the embedding network (layers models only; graph models: undefined). */
  readonly weightsFingerprint?: string;
  /** The output is a spatial map flattened in NHWC order (a cut for fine-tuning), not pooled. */
  readonly spatial?: boolean;
  embed(pixels: Uint8Array, count: number, shape: readonly [number, number, number]): Promise<Float32Array>;
  dispose(): void;
}

export async function buildEmbedder(folder: ModelFolder, embedding: string | undefined): Promise<Embedder> {
  return isGraphModel(folder.json) ? graphEmbedder(folder, embedding) : layersEmbedder(folder, embedding);
}

export function toInput(
  pixels: Uint8Array,
  n: number,
  shape: readonly [number, number, number],
  size: number,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [h, w, c] = shape;
    let x = tf.tensor4d(Float32Array.from(pixels), [n, h, w, c]);
    if (h !== size || w !== size) x = tf.image.resizeBilinear(x, [size, size], false, true);
    if (c === 1) x = tf.tile(x, [1, 1, 1, 3]);
    return tf.sub(tf.div(x, 127.5), 1) as tf.Tensor4D;
  });
}

/** [n, D] from a [n, D] or [n, h, w, D] (pooled) or [n, 1, 1, D] output. */
function flatten(y: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() =>
    y.rank === 4 ? (tf.mean(y, [1, 2]) as tf.Tensor2D) : (tf.reshape(y, [y.shape[0]!, -1]) as tf.Tensor2D),
  );
}

function sizeFrom(shape: readonly (number | null)[] | undefined, where: string): number {
  const h = shape?.[1];
  const w = shape?.[2];
  if (shape && shape.length === 4 && shape[3] != null && shape[3] !== 3)
    throw new Error(`${where}: the model takes ${shape[3]}-channel input; backbones take RGB`);
  if (h != null && h > 0 && w != null && w > 0 && h !== w)
    throw new Error(`${where}: the model takes ${h}×${w} input; only square inputs are supported`);
  return h != null && h > 0 ? h : 224;
}

export async function runBatches(
  pixels: Uint8Array,
  count: number,
  shape: readonly [number, number, number],
  size: number,
  forward: (x: tf.Tensor4D) => Promise<tf.Tensor2D>,
): Promise<{ data: Float32Array; dim: number }> {
  const per = shape[0] * shape[1] * shape[2];
  if (pixels.length < count * per)
    throw new RangeError(`embed: ${pixels.length} bytes for ${count} images of ${shape.join('×')}`);
  const parts: Float32Array[] = [];
  let dim = 0;
  for (let s = 0; s < count; s += EMBED_BATCH) {
    const n = Math.min(EMBED_BATCH, count - s);
    const x = toInput(pixels.subarray(s * per, (s + n) * per), n, shape, size);
    const y = await forward(x);
    x.dispose();
    dim = y.shape[1];
    parts.push((await y.data()) as Float32Array);
    y.dispose();
  }
  const data = new Float32Array(count * dim);
  let off = 0;
  for (const p of parts) {
    data.set(p, off);
    off += p.length;
  }
  return { data, dim };
}

/** Activations whose output is a probability, never an embedding (issue 16 item 2). */
const PROBABILITY = new Set(['softmax', 'sigmoid']);
/** Layers that only reshape or pass values through: a probability stays one across them. */
const PASS_THROUGH = new Set([
  'Reshape',
  'Flatten',
  'Dropout',
  'SpatialDropout1D',
  'SpatialDropout2D',
  'Permute',
]);
const GLOBAL_POOLING = new Set([
  'GlobalAveragePooling2D',
  'GlobalMaxPooling2D',
  'GlobalAveragePooling1D',
  'GlobalMaxPooling1D',
]);

/** Whether a layer's output is a probability (softmax/sigmoid), looking back through reshapes. */
export function outputsProbability(layer: tf.layers.Layer): boolean {
  if (layer instanceof tf.LayersModel) {
    const last = layer.outputLayers[0];
    return last ? outputsProbability(last) : false;
  }
  const cls = layer.getClassName();
  if (cls === 'Softmax') return true;
  const activation = (layer.getConfig() as { activation?: unknown }).activation;
  if (typeof activation === 'string' && PROBABILITY.has(activation)) return true;
  if (PASS_THROUGH.has(cls)) {
    const from = layer.inboundNodes[0]?.inboundLayers[0];
    return from ? outputsProbability(from) : false;
  }
  return false;
}

/**
 * The default embedding of a model that is not a catalog backbone: its last global pooling layer
 * (the pooled features before the classifier); else its last nested model that does not output
 * probabilities (Teachable Machine exports: `layers[0]`); else its last spatial feature map
 * (pooled by the embedder); else its output, unless that is a probability. Never a softmax.
 */
export function defaultEmbedding(model: tf.LayersModel, where: string): string {
  const layers = model.layers;
  for (let i = layers.length - 1; i >= 0; i--)
    if (GLOBAL_POOLING.has(layers[i]!.getClassName())) return layers[i]!.name;
  for (let i = layers.length - 1; i >= 0; i--) {
    const l = layers[i]!;
    if (l instanceof tf.LayersModel && !outputsProbability(l)) return `layers[${i}]`;
  }
  for (let i = layers.length - 1; i >= 0; i--) {
    const l = layers[i]!;
    const shape = l.outputShape as (number | null)[];
    // The input layer's "feature map" is the raw image: not a feature.
    if (l.getClassName() === 'InputLayer' || l instanceof tf.LayersModel) continue;
    if (Array.isArray(shape) && shape.length === 4 && !outputsProbability(l)) return l.name;
  }
  const out = model.outputLayers[0];
  if (out && !outputsProbability(out)) return out.name;
  throw new Error(
    `${where}: no feature layer found before the classifier (the model's output is a probability); ` +
      `name the embedding layer: --backbone PATH:${where}#layer_name`,
  );
}

/** The sub-network up to a nested model `layers[i]` or a named layer (refusing probabilities). */
function embeddingNet(model: tf.LayersModel, embedding: string, where: string): tf.LayersModel {
  const nested = /^layers\[(\d+)\]$/.exec(embedding);
  let layer: tf.layers.Layer | undefined;
  if (nested) {
    layer = model.layers[Number(nested[1])];
    if (!layer) throw new Error(`${where}: the model has no layers[${nested[1]}]`);
  } else {
    try {
      layer = model.getLayer(embedding);
    } catch {
      const names = model.layers.map((l) => l.name);
      throw new Error(`${where}: no layer named "${embedding}" (last layers: ${names.slice(-6).join(', ')})`);
    }
  }
  if (outputsProbability(layer))
    throw new Error(
      `${where}: "${embedding}" outputs probabilities (softmax/sigmoid), not features; ` +
        `use a feature layer such as "${defaultEmbedding(model, where)}"`,
    );
  if (nested && Number(nested[1]) === 0 && layer instanceof tf.LayersModel) return layer;
  return tf.model({ inputs: model.inputs, outputs: layer.output as tf.SymbolicTensor });
}

async function layersEmbedder(folder: ModelFolder, embedding: string | undefined): Promise<Embedder> {
  const model = await tf.loadLayersModel(folderHandler(folder));
  let net: tf.LayersModel;
  let output = embedding;
  try {
    if (embedding === NESTED_OR_WHOLE) {
      const first = model.layers[0];
      if (first instanceof tf.LayersModel) net = first;
      else if (model.outputs[0]?.shape.length === 4) net = model;
      else
        throw new Error(`${folder.dir}: neither a nested backbone (layers[0]) nor a spatial (no_top) output`);
    } else {
      output = embedding ?? defaultEmbedding(model, folder.dir);
      net = embeddingNet(model, output, folder.dir);
    }
  } catch (e) {
    model.dispose();
    throw e;
  }
  const inputSize = sizeFrom(net.inputs[0]?.shape, folder.dir);
  const outShape = (net.outputs[0]?.shape ?? []) as (number | null)[];
  const embeddingSize = outShape[outShape.length - 1] ?? 0;
  const forward = async (x: tf.Tensor4D) => tf.tidy(() => flatten(net.predict(x) as tf.Tensor));
  return {
    output,
    backend: 'tfjs',
    net,
    inputSize,
    embeddingSize,
    weightsFingerprint: weightsFingerprint(leafWeights(net)),
    async embed(pixels, count, shape) {
      return (await runBatches(pixels, count, shape, inputSize, forward)).data;
    },
    dispose: () => model.dispose(),
  };
}

/**
 * Weights layer by layer, nested models opened: a model's own `weights` lists its trainable ones
 * first, so a frozen copy of the same network (Teachable Machine's) would order them differently.
 */
function leafWeights(layer: tf.layers.Layer): tf.LayerVariable[] {
  return layer instanceof tf.LayersModel ? layer.layers.flatMap(leafWeights) : layer.weights;
}

interface GraphNode {
  name: string;
  op: string;
  input?: string[];
}

/** Whether a graph model node's value is a probability (Softmax/Sigmoid, through reshapes). */
function graphNodeIsProbability(nodes: GraphNode[], name: string): boolean {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  let node = byName.get(name.replace(/:\d+$/, ''));
  for (let hops = 0; node && hops < 16; hops++) {
    if (node.op === 'Softmax' || node.op === 'Sigmoid') return true;
    if (!['Identity', 'Reshape', 'Squeeze', 'IdentityN'].includes(node.op)) return false;
    node = byName.get((node.input?.[0] ?? '').replace(/^\^/, '').replace(/:\d+$/, ''));
  }
  return false;
}

async function graphEmbedder(folder: ModelFolder, embedding: string | undefined): Promise<Embedder> {
  const model = await tf.loadGraphModel(folderHandler(folder));
  const nodes = ((folder.json.modelTopology as { node?: GraphNode[] }).node ?? []) as GraphNode[];
  const target = embedding ?? model.outputs[0]?.name ?? '';
  if (graphNodeIsProbability(nodes, target)) {
    model.dispose();
    throw new Error(
      `${folder.dir}: ${embedding ? `"${embedding}"` : "the graph's output"} is a probability (softmax/sigmoid), not features; ` +
        `name a feature node: --backbone PATH:${folder.dir}#node_name`,
    );
  }
  const inputSize = sizeFrom(model.inputs[0]?.shape, folder.dir);
  // execute() where the graph allows it; graphs with control flow or dynamic shapes need executeAsync().
  let useAsync = false;
  const run = async (x: tf.Tensor4D): Promise<tf.Tensor | tf.Tensor[]> => {
    if (!useAsync) {
      try {
        return model.execute(x, embedding);
      } catch (e) {
        if (!/executeAsync/.test((e as Error).message)) throw e;
        useAsync = true;
      }
    }
    return model.executeAsync(x, embedding);
  };
  const forward = async (x: tf.Tensor4D) => {
    const y = await run(x);
    const t = Array.isArray(y) ? y[0]! : y;
    const out = flatten(t);
    tf.dispose(y);
    return out;
  };
  // The output size is only known once the graph has run: probe with one blank image.
  let embeddingSize: number;
  try {
    embeddingSize = (
      await runBatches(
        new Uint8Array(inputSize * inputSize * 3),
        1,
        [inputSize, inputSize, 3],
        inputSize,
        forward,
      )
    ).dim;
  } catch (e) {
    model.dispose();
    throw new Error(
      `${folder.dir}: running the graph model${embedding ? ` up to "${embedding}"` : ''} failed: ${(e as Error).message}`,
      { cause: e },
    );
  }
  return {
    output: embedding,
    backend: 'tfjs',
    inputSize,
    embeddingSize,
    async embed(pixels, count, shape) {
      return (await runBatches(pixels, count, shape, inputSize, forward)).data;
    },
    dispose: () => model.dispose(),
  };
}

/**
 * The frozen prefix of `base` for fine-tuning (backbones/tail.ts): the network up to the cut,
 * whose spatial output [n, h, w, c] is returned flattened ([n, h·w·c], NHWC order), not pooled.
 * Shares `base`'s weights; disposing it disposes `base`.
 */
export function prefixEmbedder(base: Embedder, prefix: tf.LayersModel, cut: string): Embedder {
  const shape = prefix.outputs[0]!.shape as number[];
  const size = shape.slice(1).reduce((a, b) => a * b, 1);
  const forward = async (x: tf.Tensor4D) =>
    tf.tidy(() => {
      const y = prefix.predict(x) as tf.Tensor;
      return tf.reshape(y, [y.shape[0]!, size]) as tf.Tensor2D;
    });
  return {
    output: `cut:${cut}`,
    backend: 'tfjs',
    net: prefix,
    inputSize: base.inputSize,
    embeddingSize: size,
    weightsFingerprint: base.weightsFingerprint,
    spatial: true,
    async embed(pixels, count, imageShape) {
      return (await runBatches(pixels, count, imageShape, base.inputSize, forward)).data;
    },
    dispose: () => base.dispose(),
  };
}
