/**
 * A TF.js model folder on disk (model.json + the weight files its manifest names): its SHA-256 as
 * this app defines it, and an IOHandler that loads it (tf.io.fileSystem is tfjs-node only).
 *
 * SHA-256 of a model folder = sha256 of the UTF-8 text
 *   "rank1-backbone/1\n" + sha256hex(canonical JSON of {format, modelTopology, weightsManifest}) + "\n"
 *   + for every weight file in manifest order: sha256hex(file bytes) + "\n".
 * Canonical JSON sorts object keys, so a re-serialised model.json (whitespace, key order, extra
 * fields such as generatedBy/convertedBy) keeps its checksum; any change to the graph, the weight
 * specs or a weight byte changes it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { ownFile as findOwnFile, refusal } from '../own-file.js';

export interface ModelJson {
  format?: string;
  modelTopology: unknown;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  [k: string]: unknown;
}

/** Thrown when a folder is not a readable TF.js model (missing/short file, bad JSON). */
export class ModelFolderError extends Error {
  override name = 'ModelFolderError';
}

export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : canonicalJson(x))).join(',')}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
}

const sha256hex = (b: string | Uint8Array) => crypto.createHash('sha256').update(b).digest('hex');

export function parseModelJson(text: string, where: string): ModelJson {
  let j: ModelJson;
  try {
    j = JSON.parse(text) as ModelJson;
  } catch (e) {
    throw new ModelFolderError(`${where}: model.json is not valid JSON (${(e as Error).message})`);
  }
  if (!j || typeof j !== 'object' || !j.modelTopology || !Array.isArray(j.weightsManifest)) {
    throw new ModelFolderError(
      `${where}: model.json is not a TF.js model (needs modelTopology and weightsManifest)`,
    );
  }
  return j;
}

/** The weight files model.json refers to, in manifest order (relative paths). */
export function weightPaths(j: ModelJson): string[] {
  return j.weightsManifest.flatMap((g) => g.paths);
}

/** Bytes a weight file must have, per group (dtype sizes; quantized weights use their storage dtype). */
function groupBytes(group: ModelJson['weightsManifest'][number]): number {
  const size: Record<string, number> = {
    float32: 4,
    int32: 4,
    bool: 1,
    uint8: 1,
    uint16: 2,
    float16: 2,
    complex64: 8,
  };
  let n = 0;
  for (const w of group.weights) {
    const count = w.shape.reduce((a, b) => a * b, 1);
    const dtype = w.quantization?.dtype ?? w.dtype;
    if (dtype === 'string') return -1; // variable length: not checkable up front
    n += count * (size[dtype] ?? 4);
  }
  return n;
}

/**
 * `rel` as a regular file of the folder itself (own-file.ts says why), its path; undefined when it
 * is absent. Anything else is refused unread, naming the file.
 */
async function ownFile(dir: string, rel: string): Promise<string | undefined> {
  const found = await findOwnFile(dir, rel);
  if (found.kind === 'ok') return found.path;
  if (found.kind === 'absent') return undefined;
  throw new ModelFolderError(`${dir}: ${refusal(rel, found)}`);
}

export interface ModelFolder {
  dir: string;
  json: ModelJson;
  /** Weight file contents in manifest order. */
  weights: Uint8Array[];
  sha256: string;
}

/** Reads and checks a model folder (all files present; each manifest group the size its specs say). */
export async function readModelFolder(dir: string): Promise<ModelFolder> {
  const abs = path.resolve(dir);
  let text: string;
  const file = await ownFile(abs, 'model.json');
  if (!file) throw new ModelFolderError(`${abs}: no readable model.json (ENOENT)`);
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    throw new ModelFolderError(
      `${abs}: no readable model.json (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  const json = parseModelJson(text, abs);
  const weights: Uint8Array[] = [];
  for (const group of json.weightsManifest) {
    let got = 0;
    for (const rel of group.paths) {
      try {
        const file = await ownFile(abs, rel);
        if (!file) throw new Error('absent');
        const b = await fs.readFile(file);
        weights.push(b);
        got += b.length;
      } catch (e) {
        if (e instanceof ModelFolderError) throw e;
        throw new ModelFolderError(`${abs}: weight file ${rel} is missing or unreadable`);
      }
    }
    const want = groupBytes(group);
    if (want >= 0 && got !== want)
      throw new ModelFolderError(
        `${abs}: weight files ${group.paths.join(', ')} hold ${got} bytes, the manifest needs ${want}`,
      );
  }
  return { dir: abs, json, weights, sha256: modelChecksum(json, weights) };
}

export function modelChecksum(json: ModelJson, weights: readonly Uint8Array[]): string {
  const h = crypto.createHash('sha256');
  h.update('rank1-backbone/1\n');
  h.update(
    sha256hex(
      canonicalJson({
        format: json.format,
        modelTopology: json.modelTopology,
        weightsManifest: json.weightsManifest,
      }),
    ) + '\n',
  );
  for (const w of weights) h.update(sha256hex(w) + '\n');
  return h.digest('hex');
}

/** The SHA-256 of a model folder as defined above (e.g. to record a new built-in's constant). */
export async function modelFolderChecksum(dir: string): Promise<string> {
  return (await readModelFolder(dir)).sha256;
}

/** An in-memory IOHandler over an already-read folder, for tf.loadLayersModel / tf.loadGraphModel. */
export function folderHandler(folder: ModelFolder): tf.io.IOHandler {
  return {
    async load() {
      const total = folder.weights.reduce((a, w) => a + w.length, 0);
      const data = new Uint8Array(total);
      let off = 0;
      for (const w of folder.weights) {
        data.set(w, off);
        off += w.length;
      }
      const j = folder.json;
      return {
        modelTopology: j.modelTopology as tf.io.ModelArtifacts['modelTopology'],
        format: j.format,
        generatedBy: j.generatedBy as string | undefined,
        convertedBy: j.convertedBy as string | null | undefined,
        signature: j.signature as object | undefined,
        userDefinedMetadata: j.userDefinedMetadata as tf.io.ModelArtifacts['userDefinedMetadata'],
        modelInitializer: j.modelInitializer as object | undefined,
        weightSpecs: j.weightsManifest.flatMap((g) => g.weights),
        weightData: data.buffer,
      };
    },
  };
}

export function isGraphModel(j: ModelJson): boolean {
  const topo = j.modelTopology as Record<string, unknown>;
  return j.format === 'graph-model' || (topo != null && Array.isArray(topo.node));
}
