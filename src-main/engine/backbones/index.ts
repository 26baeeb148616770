/**
 * Pretrained backbones for transfer learning (issue 8): the only public entry of engine/backbones.
 * Owns the built-in catalogue (catalog.ts), downloading and caching backbones under
 * `dataHome()/backbones/<name>/` with a recorded SHA-256 (download.ts, model-files.ts), imported
 * backbones (a local TF.js LayersModel or GraphModel folder), the frozen feature extractor
 * (embedder.ts) and the feature cache under `dataHome()/features/` (features.ts).
 *
 * Backbone names, as stored in a model's meta and given on the CLI:
 *   'mobilenet-v1-0.25' (default), 'mobilenet-v2-0.35'      built-ins, downloaded on first use
 *   'PATH:/abs/folder' or 'PATH:/abs/folder#output_name'     a folder to import (+ embedding output)
 *   'imported-<12 hex>'                                       an imported folder, as models store it
 *                                                             (imported.ts: copied into the data home)
 */
import type { TransferProgress } from '../../common/engine.js';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import type * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import { checkRoom, dataHome, lackOfSpace, type FreeSpace } from '../../data/index.js';
import type { ExampleSet } from '../../data/types.js';
import { currentBackend, initBackend } from '../backends/index.js';
import type { BackboneTailWeights } from '../models/tail.js';
import type { TrainRequest } from '../train.js';
import { bundledFolder } from './bundled.js';
import { isImportedBackbone, readImported, registerImported } from './imported.js';
import { BUILTIN_BACKBONES, builtinBackbone, type BuiltinBackbone } from './catalog.js';
import { downloadModelFolder, FetchFailure, type DownloadProgress, type FetchLike } from './download.js';
import { buildEmbedder, prefixEmbedder, type Embedder } from './embedder.js';
import { FineTuneError, readTail } from './tail.js';
import { onnxEmbedder } from './onnx-embedder.js';
import type { OrtOptions } from '../onnx/runtime.js';
import { embedSet, type EmbeddedFeatures, type EmbedOptions } from './features.js';
import { isGraphModel, ModelFolderError, readModelFolder, type ModelFolder } from './model-files.js';
import { folderCopyBytes, writeFolderCopy } from './folder-copy.js';

export { BUILTIN_BACKBONES, DEFAULT_BACKBONE, type BuiltinBackbone } from './catalog.js';
export { modelFolderChecksum, ModelFolderError } from './model-files.js';
export { isImportedBackbone, listImported } from './imported.js';
export { featuresDir, type EmbeddedFeatures } from './features.js';
export type { DownloadProgress, FetchLike } from './download.js';
export { FineTuneError } from './tail.js';

export interface BackboneRef {
  name: string;
  sha256?: string;
  /** A local model folder to import (alternative to a 'PATH:' name). */
  path?: string;
  /** With `path`: the layer/node whose output is the embedding (default: the model's output). */
  output?: string;
}

export interface Backbone {
  /** Canonical name (what a model's meta records; `loadBackbone({ name })` loads it again). */
  readonly name: string;
  readonly sha256: string;
  readonly embeddingSize: number;
  /** What embeds: 'onnxruntime' or 'tfjs' (the fallback, and always for graph models). */
  readonly backend?: string;
  /** Where it runs, e.g. "ONNX Runtime 1.30.0, cpu, 2 threads" or "tfjs wasm (…)". */
  readonly device?: string;
  /** Fallbacks taken while loading, in words (a failed execution provider, TF.js instead of ONNX Runtime). */
  readonly fallbacks?: readonly string[];
  /** Embeddings of `count` uint8 HWC images of the given shape: [count, embeddingSize]. */
  embed(pixels: Uint8Array, count: number, shape: readonly [number, number, number]): Promise<Float32Array>;
  /** The TF.js network from the input to the embedding and its input side (the ONNX export reads them). */
  readonly net?: tf.LayersModel;
  readonly inputSize?: number;
  /**
   * Loaded with `fineTune: N`: the last N blocks (config and pretrained weights, tail.ts); `embed`
   * and `net` are then the prefix up to the cut (a flattened spatial map) and `featureId` keys
   * the feature cache by backbone and cut.
   */
  readonly tail?: BackboneTailWeights;
  readonly featureId?: string;
  dispose(): void;
}

export interface LoadBackboneOptions {
  /** Replaces the official download location: model.json is fetched from `<baseUrl>/<mirrorPath>/model.json`. Default: env RANK1_BACKBONE_BASE_URL. */
  baseUrl?: string;
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
  /** For tests: the fetch used for downloads. */
  fetch?: FetchLike;
  /**
   * Use the copy shipped with the app when the backbone has one (default true). False takes the
   * cache/download path, for tests of that path.
   */
  bundled?: boolean;
  /** Free bytes on the data home's disk, which registering a folder's copy checks first; the real disk's by default. */
  freeSpace?: FreeSpace;
  /**
   * False: never download; a backbone that is neither shipped nor cached fails with one line.
   * For models from elsewhere (model files are untrusted: opening one must not reach the network).
   */
  download?: boolean;
  /**
   * What runs the frozen network (issue 18): 'onnx' converts it to ONNX and runs it on ONNX
   * Runtime, falling back to TF.js with a logged reason; 'tfjs' keeps TF.js. Default: env
   * RANK1_EMBED_ENGINE, else 'onnx'.
   */
  engine?: 'onnx' | 'tfjs';
  /** ONNX Runtime options (providers, threads; tests: a failing loader). */
  ort?: OrtOptions;
  /** Why ONNX Runtime is not used (default: one line on stderr). */
  onFallback?: (reason: string) => void;
  /**
   * N > 0: cut the backbone before its last N blocks for fine-tuning (tail.ts); throws
   * FineTuneError, one line, for a backbone not made of such blocks. 0 or absent: frozen.
   */
  fineTune?: number;
}

/** A built-in backbone could not be downloaded (offline, server down, HTTP error). */
export class BackboneUnavailableError extends Error {
  override name = 'BackboneUnavailableError';
}

const PATH_PREFIX = /^path:/i;

/** Canonical name of a ref: a built-in's name, or 'PATH:<abs folder>[#output]'. */
export function backboneName(ref: BackboneRef | string): string {
  const r = typeof ref === 'string' ? { name: ref } : ref;
  if (r.path) return `PATH:${path.resolve(r.path)}${r.output ? `#${r.output}` : ''}`;
  const name = r.name.trim();
  if (builtinBackbone(name) || isImportedBackbone(name)) return name;
  if (PATH_PREFIX.test(name)) {
    const { dir, output } = splitPath(name.replace(PATH_PREFIX, ''));
    return `PATH:${path.resolve(dir)}${output ? `#${output}` : ''}`;
  }
  // A bare folder path, as the CLI's `--backbone PATH` gives it.
  if (path.isAbsolute(name) || name.startsWith('.') || name.includes('/') || name.includes('\\'))
    return backboneName(`PATH:${name}`);
  throw new Error(
    `unknown backbone "${name}": use ${BUILTIN_BACKBONES.map((b) => b.name).join(', ')}, or import one with PATH:/folder/of/model.json`,
  );
}

function splitPath(s: string): { dir: string; output?: string } {
  const hash = s.lastIndexOf('#');
  if (hash < 0) return { dir: s };
  return { dir: s.slice(0, hash), output: s.slice(hash + 1) || undefined };
}

function cacheDir(name: string): string {
  return path.join(dataHome(), 'backbones', name);
}

function downloadUrl(spec: BuiltinBackbone, opts: LoadBackboneOptions): string {
  const base = (opts.baseUrl ?? process.env.RANK1_BACKBONE_BASE_URL)?.trim();
  return base ? `${base.replace(/\/+$/, '')}/${spec.mirrorPath}/model.json` : spec.url;
}

/**
 * Opens a built-in backbone's folder as an embedder and checks it against the catalogue's pin
 * (the folder's SHA-256, or the fingerprint of the embedding network's weights). Throws
 * PinMismatch, naming both values, when it does not match.
 */
async function openPinned(spec: BuiltinBackbone, folder: ModelFolder): Promise<Embedder> {
  if (spec.pin.kind === 'folder' && folder.sha256 !== spec.pin.sha256)
    throw new PinMismatch(folder.sha256, spec.pin.sha256);
  const embedder = await buildEmbedder(folder, spec.embedding);
  if (spec.pin.kind === 'weights' && embedder.weightsFingerprint !== spec.pin.sha256) {
    embedder.dispose();
    throw new PinMismatch(embedder.weightsFingerprint ?? 'none', spec.pin.sha256);
  }
  return embedder;
}

class PinMismatch extends Error {
  constructor(got: string, want: string) {
    super(`SHA-256 ${got.slice(0, 12)}…, expected ${want.slice(0, 12)}…`);
  }
}

/**
 * The copy shipped with the app if there is one and it passes its pin; else the cached copy if it
 * is intact, else a fresh download (checked against the recorded pin).
 */
async function fetchBuiltin(spec: BuiltinBackbone, opts: LoadBackboneOptions): Promise<Embedder> {
  const dir = cacheDir(spec.name);
  let reason: string | undefined;
  const shipped = opts.bundled === false ? undefined : bundledFolder(spec);
  if (shipped) {
    try {
      return await openPinned(spec, await readModelFolder(shipped));
    } catch (e) {
      // A damaged installation still works online: say why, then take the cache/download path.
      reason = `the copy shipped with the app (${shipped}) cannot be used: ${(e as Error).message}`;
    }
  }
  // No model.json: simply not downloaded yet. Anything else that fails is damage.
  const present = await fs.stat(path.join(dir, 'model.json')).then(
    () => true,
    () => false,
  );
  if (present) {
    try {
      return await openPinned(spec, await readModelFolder(dir));
    } catch (e) {
      if (e instanceof PinMismatch) reason = `cached copy fails its SHA-256 check (${e.message})`;
      else if (e instanceof ModelFolderError) reason = `cached copy is damaged: ${e.message}`;
      else reason = `cached copy cannot be loaded: ${(e as Error).message}`;
    }
  }
  if (reason)
    opts.onProgress?.({
      name: spec.name,
      phase: 'redownload',
      filesDone: 0,
      filesTotal: 0,
      bytes: 0,
      reason,
    });
  if (opts.download === false)
    throw new BackboneUnavailableError(
      `backbone "${spec.name}" is not on this computer${reason ? ` (${reason})` : ''} and is not downloaded for this model: ` +
        `train any model with --backbone ${spec.name} once (downloads it), or import its folder with --backbone PATH:/folder`,
    );
  const url = downloadUrl(spec, opts);
  // The pin is checked on the downloaded files before they are cached; the embedder built for
  // that check (from the files in memory) is the one returned.
  let verified: Embedder | undefined;
  try {
    await downloadModelFolder(url, dir, {
      name: spec.name,
      fetch: opts.fetch,
      signal: opts.signal,
      onProgress: opts.onProgress,
      beforeWrite: (bytes) =>
        checkRoom(
          path.dirname(dir),
          bytes,
          { label: `backbone "${spec.name}"`, what: 'the download', place: 'the backbones folder' },
          opts.freeSpace,
        ),
      verify: async (folder) => {
        try {
          verified = await openPinned(spec, folder);
        } catch (e) {
          throw new Error(
            `backbone "${spec.name}" downloaded from ${url} does not match its recorded SHA-256 ` +
              `(${(e as Error).message}); nothing was cached`,
            { cause: e },
          );
        }
      },
    });
  } catch (e) {
    verified?.dispose();
    if (e instanceof FetchFailure) {
      throw new BackboneUnavailableError(
        `cannot download backbone "${spec.name}" from ${e.url} (${e.message}): you may be offline or the server is unreachable. ` +
          `It is downloaded once (${spec.description.split('; ').pop()}) and then cached in ${dir}. ` +
          `Without a connection, import a backbone instead: copy a TF.js model folder (model.json + weight files) to this computer ` +
          `and use --backbone PATH:/path/to/folder[#embedding_output] ("Import a backbone…" in the app).`,
      );
    }
    throw e;
  }
  return verified!;
}

export async function loadBackbone(ref: BackboneRef, opts: LoadBackboneOptions = {}): Promise<Backbone> {
  if (!currentBackend()) await initBackend('auto');
  let name = backboneName(ref);
  let spec = builtinBackbone(name);
  let embedder: Embedder;
  let sha256: string;
  if (spec) {
    embedder = await fetchBuiltin(spec, opts);
    sha256 = spec.pin.sha256;
  } else if (isImportedBackbone(name)) {
    const { folder, output } = await readImported(name);
    embedder = await buildEmbedder(folder, output);
    sha256 = folder.sha256;
  } else {
    const { dir, output } = splitPath(name.replace(PATH_PREFIX, ''));
    const folder = await readModelFolder(dir);
    const match = await matchCatalog(folder, output);
    if (match) {
      // A copy of a catalog backbone IS that backbone (issue 16 item 2): its name, pin and
      // embedding layer, so models and the feature cache cannot tell the two apart.
      ({ spec, embedder } = match);
      name = spec.name;
      sha256 = spec.pin.sha256;
      await cacheCopy(spec, folder, opts.freeSpace);
    } else {
      embedder = await buildEmbedder(folder, output);
      sha256 = folder.sha256;
      // Models store the registered copy's name (the layer used is part of it), never the path.
      name = await registerImported(folder, embedder, { freeSpace: opts.freeSpace });
    }
  }
  if (spec && embedder.embeddingSize !== spec.embeddingSize) {
    embedder.dispose();
    throw new Error(
      `backbone "${name}": embedding has ${embedder.embeddingSize} values, expected ${spec.embeddingSize}`,
    );
  }
  let tail: Backbone['tail'];
  let featureId: string | undefined;
  if (opts.fineTune) {
    try {
      if (!embedder.net)
        throw new FineTuneError(`backbone "${name}": a graph model cannot be fine-tuned (use --fine-tune 0)`);
      const t = readTail(embedder.net, opts.fineTune, `backbone "${name}"`);
      tail = { config: t.config, weights: t.weights };
      embedder = prefixEmbedder(embedder, t.prefix, t.config.cut);
      featureId = crypto.createHash('sha256').update(`${sha256}\ncut:${t.config.cut}`).digest('hex');
    } catch (e) {
      embedder.dispose();
      throw e;
    }
  }
  const engine = opts.engine ?? (process.env.RANK1_EMBED_ENGINE === 'tfjs' ? 'tfjs' : 'onnx');
  const fallbacks: string[] = [];
  const log = opts.onFallback ?? ((r: string) => console.error(`backbone: ${r}`));
  if (engine === 'onnx')
    embedder = await onnxEmbedder(embedder, {
      ...opts.ort,
      sha256,
      onFallback: (r) => {
        fallbacks.push(r);
        log(r);
      },
    });
  const e = embedder as Embedder & { device?: string };
  const tfjsDevice = () => {
    const b = currentBackend();
    return b ? `tfjs ${b.name} (${b.device})` : 'tfjs';
  };
  return {
    name,
    sha256,
    embeddingSize: embedder.embeddingSize,
    get backend() {
      return e.backend;
    },
    get device() {
      return e.backend === 'tfjs' ? tfjsDevice() : (e.device ?? e.backend);
    },
    fallbacks,
    net: embedder.net,
    inputSize: embedder.inputSize,
    tail,
    featureId,
    embed: (pixels, count, shape) => embedder.embed(pixels, count, shape),
    dispose: () => embedder.dispose(),
  };
}

/**
 * The catalog backbone a folder is a copy of: same folder SHA-256, or same weights fingerprint of
 * the catalog's embedding network. Only when no output is named, or the catalog's own is.
 */
async function matchCatalog(
  folder: ModelFolder,
  output: string | undefined,
): Promise<{ spec: BuiltinBackbone; embedder: Embedder } | undefined> {
  if (isGraphModel(folder.json)) return undefined;
  for (const spec of BUILTIN_BACKBONES) {
    if (output && output !== spec.embedding) continue;
    if (spec.pin.kind === 'folder') {
      if (folder.sha256 === spec.pin.sha256)
        return { spec, embedder: await buildEmbedder(folder, spec.embedding) };
      continue;
    }
    let embedder: Embedder;
    try {
      embedder = await buildEmbedder(folder, spec.embedding);
    } catch {
      continue; // not shaped like this backbone
    }
    if (embedder.weightsFingerprint === spec.pin.sha256) return { spec, embedder };
    embedder.dispose();
  }
  return undefined;
}

/**
 * Keeps a verified copy of a catalog backbone in the backbone cache (when the app ships none and
 * none is cached), so models trained on it load later without a download.
 */
async function cacheCopy(spec: BuiltinBackbone, folder: ModelFolder, freeSpace?: FreeSpace): Promise<void> {
  const dir = cacheDir(spec.name);
  if (bundledFolder(spec) || folder.dir === dir) return;
  if (
    await fs.stat(path.join(dir, 'model.json')).then(
      () => true,
      () => false,
    )
  )
    return;
  const need = folderCopyBytes(folder);
  // Without room on the disk (data/disk-space.ts) the copy is simply not kept.
  if (await lackOfSpace(path.dirname(dir), need, 'the backbones folder', freeSpace)) return;
  const tmp = `${dir}.import-${process.pid}-${Date.now()}`;
  try {
    await writeFolderCopy(tmp, folder);
    await fs.rename(tmp, dir);
  } catch {
    // Only an optimisation: the folder itself was verified and is in use.
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/**
 * "Import a backbone…" (issue 15): checks a TF.js model folder (files, sizes, that it builds and
 * embeds one blank image into finite values) and registers a copy under the data home; a copy of
 * a catalog backbone is that backbone. Returns the name to train with.
 */
export async function importBackbone(
  dir: string,
  output?: string,
  { freeSpace }: { freeSpace?: FreeSpace } = {},
): Promise<{ name: string; sha256: string; embeddingSize: number }> {
  if (!currentBackend()) await initBackend('auto');
  const folder = await readModelFolder(dir);
  const match = await matchCatalog(folder, output);
  if (match) {
    match.embedder.dispose();
    await cacheCopy(match.spec, folder, freeSpace);
    return { name: match.spec.name, sha256: match.spec.pin.sha256, embeddingSize: match.spec.embeddingSize };
  }
  const embedder = await buildEmbedder(folder, output);
  try {
    const size = embedder.inputSize;
    const probe = await embedder.embed(new Uint8Array(size * size * 3), 1, [size, size, 3]);
    if (!probe.length || !probe.every(Number.isFinite))
      throw new ModelFolderError(`${folder.dir}: the backbone gives no finite embedding for a blank image`);
    const name = await registerImported(folder, embedder, { freeSpace });
    return { name, sha256: folder.sha256, embeddingSize: embedder.embeddingSize };
  } finally {
    embedder.dispose();
  }
}

/** Embeddings of a whole set, computed once and cached beside the pixel cache. */
export async function embedExamples(
  backbone: Backbone,
  set: ExampleSet,
  opts: EmbedOptions = {},
): Promise<EmbeddedFeatures> {
  return embedSet(backbone, set, opts);
}

export type { TransferProgress };

/**
 * Everything `trainModel` needs for transfer learning, from the CLI's `--backbone` value: loads
 * (downloads) the backbone, embeds the train and val splits through the feature cache and frees
 * the backbone. 'none' (or empty) gives undefined: train from scratch. With `fineTune: N` the
 * splits are the cut's spatial maps and the result carries the blocks to train (`tail`).
 */
export async function prepareTransfer(
  backbone: string | BackboneRef,
  dataset: { splits: { train: ExampleSet; val: ExampleSet } },
  opts: LoadBackboneOptions & { onProgress?: (p: TransferProgress) => void } = {},
): Promise<TrainRequest['backbone']> {
  const ref = typeof backbone === 'string' ? { name: backbone } : backbone;
  if (!ref.path && (ref.name.trim() === '' || ref.name.trim().toLowerCase() === 'none')) return undefined;
  const bb = await loadBackbone(ref, {
    ...opts,
    onProgress: opts.onProgress ? (p) => opts.onProgress!(p) : undefined,
  });
  try {
    const embed = (split: 'train' | 'val') =>
      embedExamples(bb, dataset.splits[split], {
        signal: opts.signal,
        freeSpace: opts.freeSpace,
        onProgress: (done, total) => opts.onProgress?.({ phase: 'embed', split, done, total }),
      });
    const train = await embed('train');
    const val = await embed('val');
    return {
      name: bb.name,
      sha256: bb.sha256,
      embeddingSize: bb.embeddingSize,
      train,
      val,
      ...(bb.tail ? { tail: bb.tail } : {}),
    };
  } finally {
    bb.dispose();
  }
}
