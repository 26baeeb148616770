/**
 * Fetching a model folder over HTTP(S) into the backbone cache: model.json first, then every weight
 * file its manifest names (relative to model.json's URL), into a temp folder that is checked and
 * renamed into place, so a cancelled or failed download never leaves a half folder under the name.
 * All files are fetched before the first is written, so the caller can check the disk for them.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { DownloadProgress } from '../../common/engine.js';
import { parseModelJson, readModelFolder, weightPaths, type ModelFolder } from './model-files.js';

export type { DownloadProgress };

export type FetchLike = (url: string, init?: { signal?: AbortSignal }) => Promise<Response>;

/** Network-level failure (server unreachable, HTTP error): the caller words the offline message. */
export class FetchFailure extends Error {
  override name = 'FetchFailure';
  constructor(
    message: string,
    readonly url: string,
  ) {
    super(message);
  }
}

async function get(url: string, fetchFn: FetchLike, signal?: AbortSignal): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetchFn(url, { signal });
  } catch (e) {
    if (signal?.aborted) throw e;
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new FetchFailure(`${cause?.code ?? cause?.message ?? (e as Error).message}`, url);
  }
  if (!res.ok) throw new FetchFailure(`HTTP ${res.status} ${res.statusText}`.trim(), url);
  try {
    return new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    if (signal?.aborted) throw e;
    throw new FetchFailure(`connection lost while reading (${(e as Error).message})`, url);
  }
}

/**
 * Downloads `modelUrl` and its weight files into `dest` (replacing what is there) and returns the
 * folder as read back from disk, so the checksum is computed on exactly what later loads read.
 */
export async function downloadModelFolder(
  modelUrl: string,
  dest: string,
  opts: {
    name: string;
    fetch?: FetchLike;
    signal?: AbortSignal;
    onProgress?: (p: DownloadProgress) => void;
    /** Called with the folder's size once it is fetched, before anything is written (throw to refuse: nothing is written). */
    beforeWrite?: (bytes: number) => Promise<void>;
    /** Checks the downloaded folder before it is cached (throw to refuse it: nothing is cached). */
    verify?: (folder: ModelFolder) => Promise<void>;
  },
): Promise<ModelFolder> {
  const fetchFn: FetchLike = opts.fetch ?? ((u, i) => fetch(u, i));
  const tmp = `${dest}.download-${process.pid}-${Date.now()}`;
  try {
    // Everything is fetched before anything is written, so the disk can be asked for the whole
    // folder first (backbones are a few MB; their files stay in memory until then).
    const jsonBytes = await get(modelUrl, fetchFn, opts.signal);
    const json = parseModelJson(new TextDecoder().decode(jsonBytes), modelUrl);
    const files = weightPaths(json);
    let bytes = jsonBytes.length;
    const report = (phase: DownloadProgress['phase'], filesDone: number, file?: string) =>
      opts.onProgress?.({ name: opts.name, phase, file, filesDone, filesTotal: files.length + 1, bytes });
    report('download', 1, 'model.json');
    const fetched: { target: string; data: Uint8Array }[] = [];
    for (let i = 0; i < files.length; i++) {
      const rel = files[i]!;
      const target = path.resolve(tmp, rel);
      if (!target.startsWith(tmp + path.sep))
        throw new Error(`${modelUrl}: weight path ${JSON.stringify(rel)} leaves the model folder`);
      const data = await get(new URL(rel, modelUrl).href, fetchFn, opts.signal);
      fetched.push({ target, data });
      bytes += data.length;
      report('download', i + 2, rel);
    }
    await opts.beforeWrite?.(bytes);
    await fs.mkdir(tmp, { recursive: true });
    await fs.writeFile(path.join(tmp, 'model.json'), jsonBytes);
    for (const { target, data } of fetched) {
      await fs.mkdir(path.dirname(target), { recursive: true });
      await fs.writeFile(target, data);
    }
    report('verify', files.length + 1);
    const folder = await readModelFolder(tmp);
    await opts.verify?.(folder);
    await fs.rm(dest, { recursive: true, force: true });
    await fs.rename(tmp, dest);
    report('done', files.length + 1);
    return { ...folder, dir: dest };
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}
