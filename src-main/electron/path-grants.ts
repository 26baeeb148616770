/**
 * Paths the user granted (an open/save dialog, or a drop confirmed by main). The renderer is
 * untrusted: any path in a call's arguments must lie inside a granted path, or the call is refused
 * before it reaches the engine. The engine keeps its own list (`grant(path)` on the host).
 */
import { isAbsolute, relative, resolve } from 'node:path';
import { namedPaths, ServiceError } from '../contract.js';

export class PathGrants {
  private readonly roots = new Set<string>();

  constructor(
    private readonly caseInsensitive = process.platform === 'win32' || process.platform === 'darwin',
  ) {}

  private norm(p: string): string {
    const r = resolve(p);
    return this.caseInsensitive ? r.toLowerCase() : r;
  }

  /** Grant `path` and everything under it. Returns the normalised path. */
  grant(path: string): string {
    if (typeof path !== 'string' || !path || !isAbsolute(path) || path.includes('\0')) {
      throw new ServiceError('forbidden', 'Only absolute paths can be granted.');
    }
    const r = resolve(path);
    this.roots.add(this.norm(r));
    return r;
  }

  isGranted(path: string): boolean {
    if (typeof path !== 'string' || !path || !isAbsolute(path) || path.includes('\0')) return false;
    const p = this.norm(path);
    for (const root of this.roots) {
      const rel = relative(root, p);
      if (rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))) return true;
    }
    return false;
  }

  get size(): number {
    return this.roots.size;
  }
}

/** An id of the data home unless it looks like a path (then it must be granted like any path). */
function looksLikePath(v: string): boolean {
  return isAbsolute(v) || v.includes('/') || v.includes('\\') || v.startsWith('.') || v.startsWith('~');
}

/**
 * The filesystem paths a call's arguments name, found from the contract's schemas (each path
 * field carries its kind, contract.ts `pathKinds`): paths, and ids that look like paths. Left to
 * the engine, which checks them itself: a dataset's listed files (`datasets.thumbnail`), an
 * upload's relative names, and prediction rows (a dropped image's row holds only its name; the
 * service checks each row it copies).
 */
export function pathArgs(op: string, args: unknown): { field: string; path: string }[] {
  return namedPaths(op, args)
    .filter(({ kind, value }) => kind === 'path' || (kind === 'path-or-id' && looksLikePath(value)))
    .map(({ field, value }) => ({ field, path: value }));
}

/** Throw 'forbidden' naming the first path the user has not granted. */
export function assertGranted(op: string, args: unknown, grants: PathGrants): void {
  for (const { field, path } of pathArgs(op, args)) {
    if (!grants.isGranted(path)) {
      throw new ServiceError(
        'forbidden',
        `${op}: "${field}" is not a file or folder you chose. Pick it with the file dialog or drop it on the window.`,
        field,
      );
    }
  }
}
