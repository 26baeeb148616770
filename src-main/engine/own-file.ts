/**
 * Whether `rel` is a regular file of the folder `dir` itself, looked at before anything reads it.
 * A link, or a path through a linked folder, could lead out of the folder the user gave (a granted
 * folder is a wall, links included), and a pipe or device would block the read or never end. The
 * answer says what was found; the callers (model-format.ts, backbones/model-files.ts) throw their
 * own errors with `refusal`'s words.
 */
import { promises as fs, type Stats } from 'node:fs';
import * as nodePath from 'node:path';

export type OwnFile =
  | { kind: 'ok'; path: string; stats: Stats }
  | { kind: 'absent'; path: string }
  /** lstat or realpath failed for another reason than absence (EACCES, ELOOP, …). */
  | { kind: 'unreadable'; path: string; code: string }
  | { kind: 'link'; path: string }
  /** A folder, pipe, socket or device. */
  | { kind: 'not-regular'; path: string; stats: Stats }
  /** `name`: the path itself climbs out (`../x`); `real-path`: it passes through a linked folder. */
  | { kind: 'outside'; path: string; by: 'name' | 'real-path' };

const errCode = (e: unknown) => (e as NodeJS.ErrnoException).code ?? String(e);

/** `p` lies below `root` (not `root` itself; a root of `/` included). */
function below(root: string, p: string): boolean {
  const rel = nodePath.relative(root, p);
  return rel !== '' && rel.split(nodePath.sep)[0] !== '..' && !nodePath.isAbsolute(rel);
}

export async function ownFile(dir: string, rel: string): Promise<OwnFile> {
  const root = nodePath.resolve(dir);
  const path = nodePath.resolve(root, rel);
  if (!below(root, path)) return { kind: 'outside', path, by: 'name' };
  let stats: Stats;
  try {
    stats = await fs.lstat(path);
  } catch (e) {
    const code = errCode(e);
    // ENOTDIR: a path part is a file, so the file cannot be there either.
    return code === 'ENOENT' || code === 'ENOTDIR'
      ? { kind: 'absent', path }
      : { kind: 'unreadable', path, code };
  }
  if (stats.isSymbolicLink()) return { kind: 'link', path };
  if (!stats.isFile()) return { kind: 'not-regular', path, stats };
  // lstat saw the last part only: a folder on the way may be a link out of `dir`.
  if (nodePath.dirname(path) !== root) {
    let real: [string, string];
    try {
      real = await Promise.all([fs.realpath(root), fs.realpath(path)]);
    } catch (e) {
      return { kind: 'unreadable', path, code: errCode(e) };
    }
    if (!below(real[0], real[1])) return { kind: 'outside', path, by: 'real-path' };
  }
  return { kind: 'ok', path, stats };
}

/** Why `rel` is not read, in one line starting with its name (the callers add their folder). */
export function refusal(rel: string, found: Exclude<OwnFile, { kind: 'ok' | 'absent' }>): string {
  switch (found.kind) {
    case 'unreadable':
      return `${rel} cannot be read (${found.code})`;
    case 'link':
      return `${rel} is a link; a model folder holds its own files (not read)`;
    case 'not-regular':
      return `${rel} is not a regular file (a folder, pipe or device; not read)`;
    case 'outside':
      return found.by === 'name'
        ? `${JSON.stringify(rel)} leaves the model folder (not read)`
        : `${rel} lies in a linked folder outside the model folder (not read)`;
  }
}
