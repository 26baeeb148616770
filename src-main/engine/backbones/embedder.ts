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
  readonly inputSize: number;
  readonly embeddingSize: number;
  /** `weightsFingerprint` of the embedding network (layers models only; graph models: undefined). */
  readonly weightsFingerprint?: string;
  embed(pixels: Uint8Array, count: number, shape: readonly [number, number, number]): Promise<Float32Array>;
  dispose(): void;
}

export async function buildEmbedder(folder: ModelFolder, embedding: string | undefined): Promise<Embedder> {
  return isGraphModel(folder.json) ? graphEmbedder(folder, embedding) : layersEmbedder(folder, embedding);
}

function toInput(
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

async function runBatches(
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

async function layersEmbedder(folder: ModelFolder, embedding: string | undefined): Promise<Embedder> {
  const model = await tf.loadLayersModel(folderHandler(folder));
  let net: tf.LayersModel;
  try {
    if (embedding === NESTED_OR_WHOLE) {
      const first = model.layers[0];
      if (first instanceof tf.LayersModel) net = first;
      else if (model.outputs[0]?.shape.length === 4) net = model;
      else
        throw new Error(`${folder.dir}: neither a nested backbone (layers[0]) nor a spatial (no_top) output`);
    } else if (embedding) {
      let layer: tf.layers.Layer;
      try {
        layer = model.getLayer(embedding);
      } catch {
        const names = model.layers.map((l) => l.name);
        throw new Error(
          `${folder.dir}: no layer named "${embedding}" (last layers: ${names.slice(-6).join(', ')})`,
        );
      }
      net = tf.model({ inputs: model.inputs, outputs: layer.output as tf.SymbolicTensor });
    } else {
      net = model;
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

async function graphEmbedder(folder: ModelFolder, embedding: string | undefined): Promise<Embedder> {
  const model = await tf.loadGraphModel(folderHandler(folder));
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
    inputSize,
    embeddingSize,
    async embed(pixels, count, shape) {
      return (await runBatches(pixels, count, shape, inputSize, forward)).data;
    },
    dispose: () => model.dispose(),
  };
}
