/**
 * The demo model (issue 5): on first start a small rank-1 digits model is there, so a new user can
 * drop images at once. The app ships it under `resources/demo/digits` (trained by
 * `scripts/train-demo.ts`); the service calls `installDemoModel` when it starts.
 */
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { randomBytes } from 'node:crypto';
import { lackOfSpace, type FreeSpace } from '../data/disk-space.js';
import { readModelFolder } from '../engine/model-format.js';
import { modelDir, modelsDir } from './models.js';
import { writeFileAtomic } from './atomic.js';

/** The id (folder name) the demo model gets under `<home>/models`. */
export const DEMO_MODEL_ID = 'demo-digits';
/** Written once the first-start decision is made, so a removed demo never comes back. */
export const DEMO_MARKER = '.demo-installed';

/** Where the shipped demo model lives inside the app's resources folder. */
export function demoSource(resourcesDir: string): string {
  return nodePath.join(resourcesDir, 'demo', 'digits');
}

async function hasModels(home: string): Promise<boolean> {
  try {
    const entries = await fs.readdir(modelsDir(home), { withFileTypes: true });
    // Dot-folders are temporaries (an import or removal in progress), not models.
    return entries.some((e) => e.isDirectory() && !e.name.startsWith('.'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(
    () => true,
    () => false,
  );
}

/** The bytes of the files directly in `dir` (a model folder is flat). */
async function folderBytes(dir: string): Promise<number> {
  let n = 0;
  for (const e of await fs.readdir(dir, { withFileTypes: true }))
    if (e.isFile()) n += (await fs.stat(nodePath.join(dir, e.name))).size;
  return n;
}

/**
 * Copy `<resourcesDir>/demo/digits` into `<home>/models/demo-digits` on first start: only when
 * no model exists yet and `<home>/.demo-installed` does not. Resolves true when it installed the
 * demo. The marker is written whenever the decision is made (installed, or models already there),
 * so deleting the demo, or every model, later does not bring it back. A missing or damaged shipped
 * model installs nothing and writes no marker (a fixed app can still install it); the copy is
 * checked (SHA-256 of the weights) in a temporary folder and renamed into place, so a crash never
 * leaves half a model. A disk without the reserve free (data/disk-space.ts) installs nothing either.
 */
export async function installDemoModel(
  home: string,
  resourcesDir: string,
  { freeSpace }: { freeSpace?: FreeSpace } = {},
): Promise<boolean> {
  const marker = nodePath.join(home, DEMO_MARKER);
  if (await exists(marker)) return false;
  if (await hasModels(home)) {
    await fs.mkdir(home, { recursive: true });
    await writeFileAtomic(marker, `${new Date().toISOString()} skipped: models existed\n`);
    return false;
  }
  const source = demoSource(resourcesDir);
  if (!(await exists(nodePath.join(source, 'model.json')))) return false;
  // Only ~3 MB, but a demo is never worth a disk's last free space (the reserve): skip it, with no
  // marker, so a start with room installs it.
  if (await lackOfSpace(modelsDir(home), await folderBytes(source), 'the models folder', freeSpace))
    return false;

  const root = modelsDir(home);
  await fs.mkdir(root, { recursive: true });
  const tmp = nodePath.join(root, `.${DEMO_MODEL_ID}.tmp-${randomBytes(4).toString('hex')}`);
  try {
    await fs.cp(source, tmp, { recursive: true });
    const { meta } = await readModelFolder(tmp); // throws on a damaged or truncated copy
    if (!meta.demo) {
      // Shipped models are marked at training time; mark a hand-copied one too.
      await writeFileAtomic(
        nodePath.join(tmp, 'model.json'),
        JSON.stringify({ ...meta, demo: true }, null, 1),
      );
    }
    await fs.rename(tmp, modelDir(home, DEMO_MODEL_ID));
  } catch {
    // A damaged shipped model (or a demo-digits folder that appeared meanwhile) must not stop the
    // app from starting: no demo, no marker.
    await fs.rm(tmp, { recursive: true, force: true });
    return false;
  }
  await writeFileAtomic(marker, `${new Date().toISOString()} installed ${DEMO_MODEL_ID}\n`);
  return true;
}
