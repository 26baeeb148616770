/**
 * Never delete what the app did not write (issue 13). A model is written to a folder that must be
 * absent, empty, or a model folder of ours (then replaced atomically); anything else is refused
 * before any work, with one line naming the folder. The dataset and its ancestors are never an
 * output. Leftovers of an interrupted write (`.<name>.tmp-XXXXXXXX[-old]` beside the output) are
 * recovered or cleaned at the next write or start, and only when they hold nothing but our files.
 */
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { MODEL_FILES, MODEL_FORMAT } from './model-schema.js';

/** The output folder may not be written; nothing was written or removed. */
export class OutputFolderError extends Error {
  constructor(
    readonly folder: string,
    readonly detail: string,
  ) {
    super(`${folder}: ${detail}`);
    this.name = 'OutputFolderError';
  }
}

/** Temporaries of writeModelFolder beside `<parent>/<base>`: `.<base>.tmp-XXXXXXXX` and `…-old`. */
export function temporaryName(base: string, tag: string, old = false): string {
  return `.${base}.tmp-${tag}${old ? '-old' : ''}`;
}
const TEMPORARY = /^\.(.+)\.tmp-[0-9a-f]{8}(-old)?$/;

async function entries(dir: string): Promise<string[] | undefined> {
  try {
    return await fs.readdir(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw e;
  }
}

/** A real folder holding only files the app writes into a model folder. */
async function holdsOnlyOurFiles(dir: string): Promise<boolean> {
  const st = await fs.lstat(dir).catch(() => undefined);
  if (!st?.isDirectory()) return false;
  const names = (await entries(dir)) ?? [];
  for (const name of names) {
    if (!MODEL_FILES.includes(name)) return false;
    if (!(await fs.lstat(nodePath.join(dir, name))).isFile()) return false;
  }
  return true;
}

/** A model folder of ours: only our files, and a model.json that says it is one. */
export async function isOurModelFolder(dir: string): Promise<boolean> {
  if (!(await holdsOnlyOurFiles(dir))) return false;
  try {
    const text = await fs.readFile(nodePath.join(dir, 'model.json'), 'utf8');
    return (JSON.parse(text) as { format?: unknown })?.format === MODEL_FORMAT;
  } catch {
    return false;
  }
}

/** Remove a folder of ours file by file; anything else found in it stays (and so does the folder). */
export async function removeOurFolder(dir: string): Promise<void> {
  if (!(await holdsOnlyOurFiles(dir))) return;
  for (const name of MODEL_FILES) await fs.rm(nodePath.join(dir, name), { force: true });
  await fs.rmdir(dir).catch(() => undefined);
}

/** Throws OutputFolderError unless `dir` is absent, empty, or a model folder of ours. */
export async function assertWritableModelFolder(dir: string): Promise<void> {
  let st: import('node:fs').Stats;
  try {
    st = await fs.lstat(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new OutputFolderError(dir, `cannot be checked (${(e as NodeJS.ErrnoException).code})`);
  }
  if (st.isSymbolicLink())
    throw new OutputFolderError(dir, 'is a link; choose a new or empty folder (nothing was written)');
  if (!st.isDirectory()) throw new OutputFolderError(dir, 'is a file; choose a new or empty folder');
  const names = (await entries(dir)) ?? [];
  if (names.length === 0 || (await isOurModelFolder(dir))) return;
  const shown = names.slice(0, 3).join(', ') + (names.length > 3 ? `, … (${names.length} entries)` : '');
  throw new OutputFolderError(
    dir,
    `already holds ${shown}; choose a new or empty folder (only a Rank-1 Studio model folder is replaced)`,
  );
}

/** The real path of `p`, or of its nearest existing ancestor joined with the rest. */
async function realPath(p: string): Promise<string> {
  const abs = nodePath.resolve(p);
  try {
    return await fs.realpath(abs);
  } catch {
    const parent = nodePath.dirname(abs);
    if (parent === abs) return abs;
    return nodePath.join(await realPath(parent), nodePath.basename(abs));
  }
}

function inside(child: string, parent: string): boolean {
  const rel = nodePath.relative(parent, child);
  return rel !== '' && !rel.startsWith('..') && !nodePath.isAbsolute(rel);
}

/**
 * Checked before any work (the service and the CLI call it before training): the output must be
 * writable by the rule above, and must neither be, hold, nor sit inside the dataset folder.
 */
export async function checkOutputFolder(out: string, opts: { dataset?: string } = {}): Promise<void> {
  const link = await fs.lstat(out).catch(() => undefined);
  if (link?.isSymbolicLink()) await assertWritableModelFolder(out);
  if (opts.dataset) {
    const [o, d] = await Promise.all([realPath(out), realPath(opts.dataset)]);
    if (o === d) throw new OutputFolderError(out, 'is the dataset folder; choose a new folder for the model');
    if (inside(d, o))
      throw new OutputFolderError(
        out,
        `holds the dataset folder ${opts.dataset}; choose a new folder for the model`,
      );
    if (inside(o, d))
      throw new OutputFolderError(
        out,
        `is inside the dataset folder ${opts.dataset} (it would be read as a class); choose a folder outside it`,
      );
  }
  await assertWritableModelFolder(out);
}

/**
 * Settle what an interrupted writeModelFolder left beside `dir`. Between its two renames the
 * previous model sits in `…-old` and the complete new one in `.tmp-…`: the new one is moved in
 * (its model.json is written last, so a readable one means it is whole), else the old one is moved
 * back. Other temporaries of ours are removed; folders holding anything else are left alone.
 */
export async function recoverModelFolder(dir: string): Promise<void> {
  const parent = nodePath.dirname(dir);
  const base = nodePath.basename(dir);
  const names = ((await entries(parent)) ?? []).filter((n) => TEMPORARY.exec(n)?.[1] === base);
  if (!names.length) return;
  const paths = names.map((n) => nodePath.join(parent, n));
  const present = await fs.lstat(dir).then(
    () => true,
    () => false,
  );
  if (!present) {
    const fresh: string[] = [];
    const old: string[] = [];
    for (const p of paths) {
      if (!(await isOurModelFolder(p))) continue;
      (p.endsWith('-old') ? old : fresh).push(p);
    }
    const pick = fresh[0] ?? old[0];
    if (pick) await fs.rename(pick, dir).catch(() => undefined);
  }
  for (const p of paths) if (p !== dir) await removeOurFolder(p);
}

/** recoverModelFolder for every model folder in `parent` that has leftovers (at start). */
export async function recoverLeftovers(parent: string): Promise<void> {
  const bases = new Set<string>();
  for (const n of (await entries(parent)) ?? []) {
    const base = TEMPORARY.exec(n)?.[1];
    if (base) bases.add(base);
  }
  for (const base of bases) await recoverModelFolder(nodePath.join(parent, base));
}

/**
 * Write a file and fsync it before returning, so that a rename that publishes it never points at
 * an empty or partial file after a power cut. `flag` 'wx' refuses an existing file (a temporary name).
 */
export async function writeFileSynced(
  file: string,
  data: string | Uint8Array,
  flag: 'w' | 'wx' = 'w',
): Promise<void> {
  const handle = await fs.open(file, flag);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
