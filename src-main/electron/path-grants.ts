/**
 * Paths the user granted (an open/save dialog, or a drop confirmed by main). The renderer is
 * untrusted: any path in a call's arguments must lie inside a granted path, or the call is refused
 * before it reaches the engine. The engine keeps its own list (`grant(path)` on the host).
 */
import { isAbsolute, relative, resolve } from 'node:path';
import { ServiceError } from '../contract.js';

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

/** A dataset argument is an id unless it looks like a path. */
function looksLikePath(v: string): boolean {
  return isAbsolute(v) || v.includes('/') || v.includes('\\') || v.startsWith('.') || v.startsWith('~');
}

/**
 * The filesystem paths an operation's arguments name. `datasets.thumbnail` is left to the engine:
 * its files come from an imported dataset (listed by the engine), not from the user.
 */
export function pathArgs(op: string, args: unknown): { field: string; path: string }[] {
  if (typeof args !== 'object' || args === null) return [];
  const a = args as Record<string, unknown>;
  const out: { field: string; path: string }[] = [];
  const add = (field: string, v: unknown, onlyIfPath = false) => {
    if (typeof v === 'string' && (!onlyIfPath || looksLikePath(v))) out.push({ field, path: v });
  };
  switch (op) {
    case 'datasets.scan':
    case 'datasets.import':
      add('path', a.path);
      break;
    case 'train.start':
      add('dataset', a.dataset, true);
      add('backbone', a.backbone, true);
      break;
    case 'evaluate':
      add('dataset', a.dataset, true);
      add('ood', a.ood);
      break;
    case 'compare.start':
      add('dataset', a.dataset, true);
      add('backbone', a.backbone, true);
      add('ood', a.ood);
      break;
    case 'predict':
      if (Array.isArray(a.paths)) a.paths.forEach((p, i) => add(`paths.${i}`, p));
      break;
    case 'models.export':
      add('dest', a.dest);
      break;
    case 'models.import':
      add('path', a.path);
      break;
    case 'predictions.copy':
      add('dest', a.dest);
      break;
  }
  return out;
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
