/**
 * The feature cache: a set's backbone embeddings, computed once and kept beside the pixel cache in
 * `dataHome()/features/<backbone sha256, 16 hex>/<key>.bin` (float32 LE, [count, dim]) and
 * `<key>.json` (the index). key = hash of the set's file list, its stored image shape and this
 * format's version. The index also keeps a hash of every image's pixels, so an image that changed
 * under the same name (re-import) is embedded again while the rest are reused, and the bin's
 * SHA-256, so a damaged bin is recomputed rather than trusted. Both files are written atomically
 * (temp + rename), bin first: a crash between the two leaves an index that fails its check.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { checkRoom, dataHome, writeAtomic, type FreeSpace } from '../../data/index.js';
import type { ExampleSet } from '../../data/types.js';
import type { FeatureSet } from '../inputs.js';
import { canonicalJson } from './model-files.js';
import { EMBED_BATCH } from './embedder.js';

const FEATURES_VERSION = 1;
/** The index's share per image: a quoted 16-hex pixel hash and a comma. */
const INDEX_BYTES_PER_IMAGE = 19;

interface FeatureIndex {
  version: number;
  backbone: string;
  count: number;
  dim: number;
  shape: [number, number, number];
  /** sha1 of each image's pixels, 16 hex. */
  pixels: string[];
  binSha256: string;
}

/** What embedExamples returns: a FeatureSet plus how it was obtained. */
export interface EmbeddedFeatures extends FeatureSet {
  /** Images embedded by this call (the rest came from the cache). */
  readonly computed: number;
  readonly cached: number;
  /** The .bin file holding them. */
  readonly file: string;
}

export interface EmbedOptions {
  signal?: AbortSignal;
  /** Free bytes on the features folder's disk, checked before the cache is written; the real disk's by default. */
  freeSpace?: FreeSpace;
  onProgress?: (done: number, total: number) => void;
}

/** The minimal backbone surface the cache needs (the public Backbone satisfies it). */
export interface Embedding {
  /** How refusals name it (the public Backbone's name). */
  readonly name?: string;
  readonly sha256: string;
  /**
   * What the cache is keyed by when it is not the backbone's SHA-256: a cut for fine-tuning
   * (backbone SHA-256 + cut layer), whose features are a spatial map, not the embedding.
   */
  readonly featureId?: string;
  readonly embeddingSize: number;
  embed(pixels: Uint8Array, count: number, shape: readonly [number, number, number]): Promise<Float32Array>;
}

export function featuresDir(backboneSha: string): string {
  return path.join(dataHome(), 'features', backboneSha.slice(0, 16));
}

export function featureKey(backboneSha: string, set: ExampleSet): string {
  const key = canonicalJson({
    v: FEATURES_VERSION,
    backbone: backboneSha,
    shape: [set.height, set.width, set.channels],
    files: set.files,
  });
  return crypto.createHash('sha256').update(key).digest('hex').slice(0, 32);
}

const sha256hex = (b: Uint8Array) => crypto.createHash('sha256').update(b).digest('hex');

/** The cached embeddings, if index and bin agree with each other and with this backbone and set. */
async function loadCached(
  binFile: string,
  indexFile: string,
  backbone: Embedding,
  set: ExampleSet,
): Promise<{ index: FeatureIndex; data: Float32Array } | undefined> {
  let index: FeatureIndex;
  try {
    index = JSON.parse(await fs.readFile(indexFile, 'utf8')) as FeatureIndex;
  } catch {
    return undefined;
  }
  if (
    index.version !== FEATURES_VERSION ||
    index.backbone !== (backbone.featureId ?? backbone.sha256) ||
    index.count !== set.count ||
    index.dim !== backbone.embeddingSize ||
    !Array.isArray(index.pixels) ||
    index.pixels.length !== set.count
  ) {
    return undefined;
  }
  const bin = await fs.readFile(binFile).catch(() => undefined);
  if (!bin || bin.length !== index.count * index.dim * 4 || sha256hex(bin) !== index.binSha256)
    return undefined;
  // Copy into an aligned buffer (a Buffer may sit at any offset of Node's pool).
  const data = new Float32Array(index.count * index.dim);
  new Uint8Array(data.buffer).set(bin);
  return { index, data };
}

export async function embedSet(
  backbone: Embedding,
  set: ExampleSet,
  opts: EmbedOptions = {},
): Promise<EmbeddedFeatures> {
  const dim = backbone.embeddingSize;
  const id = backbone.featureId ?? backbone.sha256;
  const dir = featuresDir(id);
  const key = featureKey(id, set);
  const binFile = path.join(dir, `${key}.bin`);
  const indexFile = path.join(dir, `${key}.json`);
  const shape = [set.height, set.width, set.channels] as const;
  const per = set.height * set.width * set.channels;

  const cached = await loadCached(binFile, indexFile, backbone, set);
  // Room for the bin and its index (data/disk-space.ts): asked before embedding when nothing is
  // cached (the write is certain; minutes of work are not wasted), else only when a write comes.
  const binBytes = set.count * dim * 4;
  const room = () =>
    checkRoom(
      dir,
      binBytes + INDEX_BYTES_PER_IMAGE * set.count,
      {
        label: `backbone "${backbone.name ?? id.slice(0, 12)}"`,
        what: `the feature cache of ${set.count} images`,
        place: 'the features folder',
      },
      opts.freeSpace,
    );
  if (!cached) await room();
  const data = cached?.data ?? new Float32Array(set.count * dim);
  const hashes: string[] = new Array<string>(set.count);
  let computed = 0;
  for (let s = 0; s < set.count; s += EMBED_BATCH) {
    opts.signal?.throwIfAborted();
    const n = Math.min(EMBED_BATCH, set.count - s);
    const idx = Array.from({ length: n }, (_, i) => s + i);
    const px = await set.read(idx);
    const stale: number[] = [];
    for (let i = 0; i < n; i++) {
      const h = crypto
        .createHash('sha1')
        .update(px.subarray(i * per, (i + 1) * per))
        .digest('hex')
        .slice(0, 16);
      hashes[s + i] = h;
      if (cached?.index.pixels[s + i] !== h) stale.push(i);
    }
    if (stale.length) {
      const batch = stale.length === n ? px : concatImages(px, stale, per);
      const emb = await backbone.embed(batch, stale.length, shape);
      if (emb.length !== stale.length * dim)
        throw new Error(`backbone returned ${emb.length} values for ${stale.length} images of ${dim}`);
      stale.forEach((i, k) => data.set(emb.subarray(k * dim, (k + 1) * dim), (s + i) * dim));
      computed += stale.length;
    }
    opts.onProgress?.(s + n, set.count);
  }
  if (set.count === 0) opts.onProgress?.(0, 0);

  if (computed > 0 || !cached) {
    if (cached) await room();
    await fs.mkdir(dir, { recursive: true });
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    await writeAtomic(binFile, bytes);
    const index: FeatureIndex = {
      version: FEATURES_VERSION,
      backbone: id,
      count: set.count,
      dim,
      shape: [...shape],
      pixels: hashes,
      binSha256: sha256hex(bytes),
    };
    await writeAtomic(indexFile, JSON.stringify(index));
  }

  return {
    count: set.count,
    dim,
    labels: set.labels,
    files: set.files,
    computed,
    cached: set.count - computed,
    file: binFile,
    async read(indices) {
      const out = new Float32Array(indices.length * dim);
      for (let k = 0; k < indices.length; k++) {
        const i = indices[k]!;
        if (!(i >= 0 && i < set.count))
          throw new RangeError(`feature index ${i} outside 0..${set.count - 1}`);
        out.set(data.subarray(i * dim, (i + 1) * dim), k * dim);
      }
      return out;
    },
  };
}

function concatImages(px: Uint8Array, which: number[], per: number): Uint8Array {
  const out = new Uint8Array(which.length * per);
  which.forEach((i, k) => out.set(px.subarray(i * per, (i + 1) * per), k * per));
  return out;
}
