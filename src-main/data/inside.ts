/**
 * The wall around a granted folder: a path is inside a root only when its resolved real path
 * (every symlink followed) lies under the root's real path. Scanning, import and thumbnails use
 * it; the service uses it for anything else a client names.
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';

/** True when `realPath` is `realRoot` or lies under it; both must already be real (resolved) paths. */
export function isInsideReal(realRoot: string, realPath: string): boolean {
  const rel = path.relative(realRoot, realPath);
  return rel === '' || (!rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel));
}

/** The real path, or undefined when it does not exist or cannot be resolved. */
export function realPathOf(p: string): string | undefined {
  try {
    return realpathSync.native(p);
  } catch {
    return undefined;
  }
}

/**
 * True when `p`, with every symlink resolved, is `root` or lies under it. A path that does not
 * exist (or cannot be resolved) is not inside: nothing is read through it.
 */
export function isInside(root: string, p: string): boolean {
  const realRoot = realPathOf(root);
  const real = realPathOf(p);
  return realRoot !== undefined && real !== undefined && isInsideReal(realRoot, real);
}

/** The one line every outside link is reported with. */
export const OUTSIDE_MESSAGE = 'link leads outside the dataset folder; not read';
