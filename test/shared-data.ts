/** `../shared` beside the checkout: the data and models made by others (CI lays it there too). */
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SHARED = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../shared');

/**
 * A small copy of a dataset laid out one folder a class: images `skip` to `skip + count` (by name)
 * of each of `classes` under `from`, copied into `to/<class>`. Returns `to`.
 */
export function copyClasses(
  from: string,
  to: string,
  classes: readonly string[],
  count: number,
  skip = 0,
): string {
  for (const c of classes) {
    mkdirSync(path.join(to, c), { recursive: true });
    for (const f of readdirSync(path.join(from, c))
      .sort()
      .slice(skip, skip + count))
      copyFileSync(path.join(from, c, f), path.join(to, c, f));
  }
  return to;
}
