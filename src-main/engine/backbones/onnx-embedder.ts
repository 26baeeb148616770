/**
 * Frozen backbones on ONNX Runtime (issue 18). The TF.js embedding network is converted to ONNX
 * once (engine/onnx), checked against the TF.js embedding on the first real images it embeds
 * (max |difference| < VERIFY_TOLERANCE), then cached under `dataHome()/backbones/onnx/` keyed by
 * the backbone's SHA-256, the embedding output and the converter version, with the file's own
 * SHA-256 beside it. Same pixels in, same features out: the images go through the same
 * preprocessing as on TF.js (embedder.ts `toInput`, done in the graph), so the feature cache
 * keeps its meaning.
 *
 * The TF.js embedder stays the fallback, with the reason logged: a network that cannot be
 * converted, ONNX Runtime that cannot load or start, or a verification that fails.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { dataHome, writeAtomic } from '../../data/index.js';
import { BATCH, OnnxGraph, serializeModel } from '../onnx/graph.js';
import { createSession, type OrtOptions, type OrtSessionInfo } from '../onnx/runtime.js';
import { convertLayersModel, globalAveragePool, toPlain } from '../onnx/tfjs-layers.js';
import { EMBED_BATCH, type Embedder } from './embedder.js';

/** Bump when the conversion changes: cached .onnx files of another version are rebuilt. */
export const CONVERTER_VERSION = 3;
/** Largest |ONNX − TF.js| feature difference accepted (issue 18); for an unpooled map, × its largest |value|. */
export const VERIFY_TOLERANCE = 1e-4;
/** Images of the first call compared against TF.js before the converted network is trusted. */
const VERIFY_IMAGES = 8;

export interface OnnxEmbedOptions extends OrtOptions {
  /** Identity of the backbone (its pin or folder SHA-256): part of the cache key. */
  sha256: string;
  /**
   * Each fallback, in words: an execution provider that failed (the next one is used), or ONNX
   * Runtime not used at all (TF.js is). Default: one line on stderr.
   */
  onFallback?: (reason: string) => void;
}

const cacheRoot = () => path.join(dataHome(), 'backbones', 'onnx');
const sha256hex = (b: Uint8Array | string) => crypto.createHash('sha256').update(b).digest('hex');

/**
 * The ONNX model of an embedding network. Input: the stored pixels as float32 NHWC values in
 * [0, 255], any size, 1 or 3 channels. In the graph, as `toInput` does on TF.js: bilinear resize
 * to the input size with half-pixel centres (ONNX Resize 'linear' + 'half_pixel' is TF's
 * resizeBilinear(halfPixelCenters); measured ≤ 4e-6 apart after scaling, identical without a
 * resize), grey tiled to RGB, x / 127.5 − 1; then the network and global average pooling.
 */
export function embeddingModel(
  net: tf.LayersModel,
  size: number,
  meta: Record<string, string>,
  spatial = false,
): Uint8Array {
  const g = new OnnxGraph('rank1_backbone');
  const px = g.input('pixels', [BATCH, 'height', 'width', 'channels']);
  const nchw = g.op('Transpose', [px], { perm: [0, 3, 1, 2] });
  const batchAndChannels = g.op('Slice', [
    g.op('Shape', [nchw]),
    g.int64s('start', [0]),
    g.int64s('end', [2]),
  ]);
  const sizes = g.op('Concat', [batchAndChannels, g.int64s('input_size', [size, size])], { axis: 0 });
  const resized = g.op('Resize', [nchw, '', '', sizes], {
    mode: 'linear',
    coordinate_transformation_mode: 'half_pixel',
  });
  const rgb = g.op('Expand', [resized, g.int64s('rgb_shape', [1, 3, 1, 1])]);
  const scaled = g.op('Div', [rgb, g.initializer('half_range', Float32Array.of(127.5), [])]);
  const x = g.op('Sub', [scaled, g.initializer('one', Float32Array.of(1), [])]);
  const [y] = convertLayersModel(g, net, [{ name: x, rank: 4, nchw: true }]);
  // A cut for fine-tuning (embedder.ts prefixEmbedder): the map flattened in TF.js's NHWC order.
  let out = spatial ? { name: toPlain(g, y!), rank: 4, nchw: false } : globalAveragePool(g, y!);
  if (out.rank !== 2) out = { name: g.op('Flatten', [out.name], { axis: 1 }), rank: 2, nchw: false };
  g.output(g.op('Identity', [out.name], {}, 'embedding_out'), [BATCH, 'features']);
  return serializeModel(g, { metadata: { ...meta, converter: String(CONVERTER_VERSION) } });
}

interface CacheEntry {
  file: string;
  index: string;
}

function cacheEntry(sha256: string, output: string | undefined): CacheEntry {
  const key = sha256hex(`${sha256}\n${output ?? ''}\n${CONVERTER_VERSION}`).slice(0, 16);
  return { file: path.join(cacheRoot(), `${key}.onnx`), index: path.join(cacheRoot(), `${key}.json`) };
}

/** The cached, verified model if intact (its SHA-256 matches the index written beside it). */
async function readCached(entry: CacheEntry): Promise<Uint8Array | undefined> {
  try {
    const index = JSON.parse(await fs.readFile(entry.index, 'utf8')) as { onnxSha256?: string };
    const bytes = new Uint8Array(await fs.readFile(entry.file));
    return sha256hex(bytes) === index.onnxSha256 ? bytes : undefined;
  } catch {
    return undefined;
  }
}

async function writeCached(
  entry: CacheEntry,
  bytes: Uint8Array,
  info: Record<string, unknown>,
): Promise<void> {
  await fs.mkdir(cacheRoot(), { recursive: true });
  // Model first, then the index that vouches for it.
  await writeAtomic(entry.file, bytes);
  await writeAtomic(entry.index, JSON.stringify({ ...info, onnxSha256: sha256hex(bytes) }, null, 2));
}

const maxDiff = (a: Float32Array, b: Float32Array) =>
  a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

/**
 * An embedder that runs `tfjs`'s network on ONNX Runtime, or `tfjs` itself (after `onFallback`)
 * where that cannot be done. Owns `tfjs` either way (dispose disposes both).
 */
export async function onnxEmbedder(tfjs: Embedder, opts: OnnxEmbedOptions): Promise<Embedder> {
  const log = opts.onFallback ?? ((r: string) => console.error(`backbone: ${r}`));
  const fallback = (r: string) => log(`${r}; embedding with TF.js`);
  if (!tfjs.net) {
    fallback('ONNX Runtime runs converted layers models only, this is a graph model');
    return tfjs;
  }
  const entry = cacheEntry(opts.sha256, tfjs.output);
  let bytes = await readCached(entry);
  let verified = bytes !== undefined;
  if (!bytes) {
    try {
      bytes = embeddingModel(
        tfjs.net,
        tfjs.inputSize,
        { source_sha256: opts.sha256, embedding: tfjs.output ?? '' },
        tfjs.spatial,
      );
    } catch (e) {
      fallback(`the network cannot be converted to ONNX: ${(e as Error).message}`);
      return tfjs;
    }
  }
  let ort: OrtSessionInfo;
  try {
    ort = await createSession(bytes, opts);
  } catch (e) {
    fallback(`ONNX Runtime cannot start: ${(e as Error).message}`);
    return tfjs;
  }
  for (const s of ort.skipped)
    log(`ONNX Runtime provider ${s.provider} not used (${s.reason}); using ${ort.provider}`);
  const inputName = ort.session.inputNames[0]!;
  const outputName = ort.session.outputNames[0]!;
  let active = true;

  const onnxEmbed = async (pixels: Uint8Array, count: number, shape: readonly [number, number, number]) => {
    const per = shape[0] * shape[1] * shape[2];
    if (pixels.length < count * per)
      throw new RangeError(`embed: ${pixels.length} bytes for ${count} images of ${shape.join('×')}`);
    const out = new Float32Array(count * tfjs.embeddingSize);
    for (let s = 0; s < count; s += EMBED_BATCH) {
      const n = Math.min(EMBED_BATCH, count - s);
      // A native uint8 → float32 copy; resize, tiling and scaling happen in the graph.
      const x = new Float32Array(pixels.subarray(s * per, (s + n) * per));
      const dims = [n, ...shape];
      const res = await ort.session.run({ [inputName]: new ort.ort.Tensor('float32', x, dims) });
      out.set(res[outputName]!.data as Float32Array, s * tfjs.embeddingSize);
    }
    return out;
  };

  const stop = async (reason: string) => {
    active = false;
    fallback(reason);
    await ort.session.release().catch(() => undefined);
  };

  const embedder: Embedder & { device: string } = {
    output: tfjs.output,
    backend: 'onnxruntime',
    device: ort.device,
    net: tfjs.net,
    inputSize: tfjs.inputSize,
    embeddingSize: tfjs.embeddingSize,
    weightsFingerprint: tfjs.weightsFingerprint,
    spatial: tfjs.spatial,
    async embed(pixels, count, shape) {
      if (!active) return tfjs.embed(pixels, count, shape);
      if (!verified && count > 0) {
        // The first images this backbone embeds are the real photos it is checked on.
        const n = Math.min(count, VERIFY_IMAGES);
        const per = shape[0] * shape[1] * shape[2];
        const head = pixels.subarray(0, n * per);
        const want = await tfjs.embed(head, n, shape);
        let got: Float32Array;
        try {
          got = await onnxEmbed(head, n, shape);
        } catch (e) {
          await stop(`ONNX Runtime failed on the first images: ${(e as Error).message}`);
          return tfjs.embed(pixels, count, shape);
        }
        const diff = maxDiff(want, got);
        // An unpooled map (a fine-tuning cut) is not averaged over positions: its rounding grows
        // with its values (a linear bottleneck reaches tens), so the limit is relative to them.
        const limit = VERIFY_TOLERANCE * (tfjs.spatial ? Math.max(1, maxAbs(want)) : 1);
        if (!(diff < limit)) {
          await stop(
            `the converted network differs from TF.js by ${diff.toExponential(2)} (limit ${limit.toExponential(2)})`,
          );
          return tfjs.embed(pixels, count, shape);
        }
        verified = true;
        await writeCached(entry, bytes!, {
          sourceSha256: opts.sha256,
          embedding: tfjs.output ?? null,
          converter: CONVERTER_VERSION,
          verifiedMaxDiff: diff,
          verifiedImages: n,
        }).catch((e: Error) =>
          fallback(`the converted model could not be cached (${e.message}); it is used anyway`),
        );
      }
      return onnxEmbed(pixels, count, shape);
    },
    dispose() {
      active = false;
      void ort.session.release().catch(() => undefined);
      tfjs.dispose();
    },
  };
  Object.defineProperty(embedder, 'backend', { get: () => (active ? 'onnxruntime' : 'tfjs') });
  Object.defineProperty(embedder, 'device', { get: () => (active ? ort.device : 'tfjs') });
  return embedder;
}

/** Where the converted model of a backbone is cached (for tests and tools). */
export function onnxCacheFile(sha256: string, output: string | undefined): string {
  return cacheEntry(sha256, output).file;
}
