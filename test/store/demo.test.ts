import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEMO_MARKER, DEMO_MODEL_ID, demoSource, installDemoModel } from '../../src-main/store/demo.js';
import { listModels, modelDir, readModelFolder, writeModelFolder } from '../../src-main/store/index.js';
import { fakeMeta, fakeWeights } from './fake-model.js';
import { DISK_RESERVE } from '../../src-main/data/disk-space.js';

const repoResources = path.resolve(fileURLToPath(new URL('../../resources', import.meta.url)));

let tmp: string;
let home: string;
let resources: string;
beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-demo-'));
  home = path.join(tmp, 'home');
  resources = path.join(tmp, 'resources');
  await writeModelFolder(
    demoSource(resources),
    fakeMeta({ id: 'demo-digits', name: 'Digits (demo)', demo: true }),
    fakeWeights(),
  );
});
afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

const exists = (p: string) =>
  fs.access(p).then(
    () => true,
    () => false,
  );

describe('installDemoModel', () => {
  it('installs the demo into a fresh home, verified and marked, once', async () => {
    await expect(installDemoModel(home, resources)).resolves.toBe(true);
    const { models } = await listModels(home);
    expect(models.map((m) => [m.id, m.demo])).toEqual([[DEMO_MODEL_ID, true]]);
    await expect(readModelFolder(modelDir(home, DEMO_MODEL_ID))).resolves.toMatchObject({
      meta: { name: 'Digits (demo)' },
    });
    expect(await exists(path.join(home, DEMO_MARKER))).toBe(true);
    // No temporaries left beside it.
    expect(await fs.readdir(path.join(home, 'models'))).toEqual([DEMO_MODEL_ID]);
    // Second start: nothing to do.
    await expect(installDemoModel(home, resources)).resolves.toBe(false);
  });

  it('on a disk without the reserve free installs nothing and writes no marker, so a later start with room installs it', async () => {
    const asked: string[] = [];
    const full = async (dir: string) => {
      asked.push(dir);
      return DISK_RESERVE;
    };
    await expect(installDemoModel(home, resources, { freeSpace: full })).resolves.toBe(false);
    expect(asked.length).toBe(1);
    expect(await fs.readdir(home).catch(() => [])).toEqual([]);
    const roomy = async () => DISK_RESERVE + 2 ** 30;
    await expect(installDemoModel(home, resources, { freeSpace: roomy })).resolves.toBe(true);
    expect((await listModels(home)).models.map((m) => m.id)).toEqual([DEMO_MODEL_ID]);
  });

  it('does not come back once removed (the marker remembers the first start)', async () => {
    await installDemoModel(home, resources);
    await fs.rm(modelDir(home, DEMO_MODEL_ID), { recursive: true });
    await expect(installDemoModel(home, resources)).resolves.toBe(false);
    expect((await listModels(home)).models).toEqual([]);
  });

  it('leaves a home with models alone, and marks it', async () => {
    await writeModelFolder(modelDir(home, 'mine'), fakeMeta({ id: 'mine' }), fakeWeights(2));
    await expect(installDemoModel(home, resources)).resolves.toBe(false);
    expect((await listModels(home)).models.map((m) => m.id)).toEqual(['mine']);
    expect(await exists(path.join(home, DEMO_MARKER))).toBe(true);
  });

  it('installs nothing and writes no marker when the shipped model is missing or damaged', async () => {
    await expect(installDemoModel(home, path.join(tmp, 'nowhere'))).resolves.toBe(false);
    expect(await exists(path.join(home, DEMO_MARKER))).toBe(false);

    const weights = path.join(demoSource(resources), 'weights.bin');
    const bytes = await fs.readFile(weights);
    bytes[0] = bytes[0]! ^ 0xff;
    await fs.writeFile(weights, bytes);
    await expect(installDemoModel(home, resources)).resolves.toBe(false);
    expect(await exists(path.join(home, DEMO_MARKER))).toBe(false);
    expect(await fs.readdir(path.join(home, 'models')).catch(() => [])).toEqual([]);
  });

  it('marks a shipped model that lacks demo: true as the demo', async () => {
    await writeModelFolder(demoSource(resources), fakeMeta({ id: 'demo-digits' }), fakeWeights());
    await installDemoModel(home, resources);
    expect((await listModels(home)).models[0]?.demo).toBe(true);
  });

  it.skipIf(!existsSync(path.join(demoSource(repoResources), 'model.json')))(
    'the repository ships a valid, small demo model marked demo',
    async () => {
      const { meta } = await readModelFolder(demoSource(repoResources));
      expect(meta.demo).toBe(true);
      expect(meta.classes).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
      expect(meta.weights.bytes).toBeLessThan(5 * 1024 * 1024);
      expect(meta.ood?.score).toBeTruthy();
      expect(meta.heldOut).toBeUndefined();
    },
  );
});
