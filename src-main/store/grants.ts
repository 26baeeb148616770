/**
 * Path grants: the service touches only paths the user picked (dialog, drop, CLI argument) and
 * the data home. Paths are compared after `path.resolve` + `fs.realpath`, so `..` segments and
 * symlinks cannot lead out of a granted root.
 */
import { realpathSync } from 'node:fs';
import * as nodePath from 'node:path';
import { StoreError } from './errors.js';

/** realpath of the path, or for a path that does not exist yet, of its nearest existing parent. */
export function resolveReal(p: string): string {
  let current = nodePath.resolve(p);
  const rest: string[] = [];
  for (;;) {
    try {
      return nodePath.join(realpathSync.native(current), ...rest.reverse());
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const parent = nodePath.dirname(current);
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || parent === current) throw e;
      rest.push(nodePath.basename(current));
      current = parent;
    }
  }
}

function isInside(root: string, p: string): boolean {
  const rel = nodePath.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !nodePath.isAbsolute(rel));
}

export class PathGrants {
  private readonly roots = new Set<string>();

  /** @param always roots that are always allowed (the data home). */
  constructor(always: string[] = []) {
    for (const r of always) this.grant(r);
  }

  /** Allow a path and everything under it (privileged: only transports call this). */
  grant(p: string): void {
    if (typeof p !== 'string' || !p || p.includes('\0'))
      throw new StoreError('bad-request', 'Cannot grant an empty or invalid path.');
    this.roots.add(resolveReal(p));
  }

  isAllowed(p: string): boolean {
    try {
      const real = resolveReal(p);
      return [...this.roots].some((root) => isInside(root, real));
    } catch {
      return false;
    }
  }

  /** Return the resolved real path, or throw 'forbidden' naming the argument. */
  check(p: string, field: string): string {
    if (typeof p !== 'string' || !p || p.includes('\0')) {
      throw new StoreError('bad-request', `"${field}" is not a valid path.`, field);
    }
    let real: string;
    try {
      real = resolveReal(p);
    } catch (e) {
      throw new StoreError(
        'forbidden',
        `"${field}" cannot be resolved (${(e as NodeJS.ErrnoException).code ?? 'error'}).`,
        field,
      );
    }
    for (const root of this.roots) if (isInside(root, real)) return real;
    throw new StoreError(
      'forbidden',
      `"${field}" (${p.slice(0, 300)}) is outside the folders this app may read: open or drop it in the desktop app, upload it in the browser, or start rank1 serve with --allow for its folder.`,
      field,
    );
  }
}
