/**
 * Backbones shipped inside the app (issue 15: photos train offline out of the box). They live in
 * the package's `resources/backbones/<folder>/` (electron-builder's `files` includes it; inside
 * app.asar Electron's fs reads them in place), found relative to this module whether it runs from
 * source (src-main/engine/backbones) or built (dist/main/engine/backbones).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuiltinBackbone } from './catalog.js';

const CANDIDATES = ['../../../resources/backbones', '../../../../resources/backbones'];

let root: string | null | undefined;

/** The resources/backbones folder of this installation, or null when there is none. */
export function bundledRoot(): string | null {
  if (root !== undefined) return root;
  root =
    CANDIDATES.map((rel) => fileURLToPath(new URL(rel, import.meta.url))).find((dir) => fs.existsSync(dir)) ??
    null;
  return root;
}

/** The shipped copy of a built-in backbone, if this installation has one. */
export function bundledFolder(spec: BuiltinBackbone): string | undefined {
  const base = bundledRoot();
  if (!spec.bundled || !base) return undefined;
  const dir = path.join(base, spec.bundled);
  return fs.existsSync(path.join(dir, 'model.json')) ? dir : undefined;
}
