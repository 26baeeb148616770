/**
 * Shared by the Electron tests: make sure dist/ holds a current build of the Electron shell; the
 * Electron fuses the packaged app must have; the preload's bridge methods.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const root = fileURLToPath(new URL('../..', import.meta.url));

/** @electron/fuses' marker in front of the fuse wire. */
export const FUSE_SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
/** Fuse order in wire version 1 (@electron/fuses FuseV1Options) and the state we require. */
export const REQUIRED_FUSES: [name: string, yamlKey: string, on: boolean][] = [
  ['RunAsNode', 'runAsNode', false],
  ['EnableCookieEncryption', 'enableCookieEncryption', true],
  ['EnableNodeOptionsEnvironmentVariable', 'enableNodeOptionsEnvironmentVariable', false],
  ['EnableNodeCliInspectArguments', 'enableNodeCliInspectArguments', false],
  ['EnableEmbeddedAsarIntegrityValidation', 'enableEmbeddedAsarIntegrityValidation', true],
  ['OnlyLoadAppFromAsar', 'onlyLoadAppFromAsar', true],
];

/** The whole of `window.rank1`, sorted: the preload exposes these functions and nothing else. */
export const BRIDGE_METHODS = [
  'call',
  'onMenu',
  'pathForFile',
  'pickFiles',
  'pickFolder',
  'pickSave',
  'subscribe',
];

export const builtDir = join(root, 'dist', 'main', 'electron');
const run = promisify(execFile);

/** True when a built file is missing or older than its source in src-main/electron. */
function stale(): boolean {
  const src = join(root, 'src-main', 'electron');
  for (const f of readdirSync(src).filter((f) => f.endsWith('.ts'))) {
    const out = join(builtDir, f.replace(/\.ts$/, '.js'));
    if (!existsSync(out) || statSync(out).mtimeMs < statSync(join(src, f)).mtimeMs) return true;
  }
  const preload = join(builtDir, 'preload.cjs');
  return !existsSync(preload) || statSync(preload).mtimeMs < statSync(join(src, 'preload.ts')).mtimeMs;
}

/** Build main (tsc emits even while files elsewhere have type errors) and the preload when stale. */
export async function ensureMainBuilt(): Promise<void> {
  if (!stale()) return;
  await run('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, timeout: 240_000 }).catch(() => {});
  await run('npm', ['run', 'build:preload'], { cwd: root, timeout: 60_000 });
  if (stale())
    throw new Error(
      'dist/main/electron is missing or out of date and could not be built; run `npm run build`.',
    );
}
