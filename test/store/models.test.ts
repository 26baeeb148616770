import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { zipSync } from 'fflate';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ModelImportError,
  defaultModel,
  getModel,
  importModel,
  isModelBackupZip,
  listModels,
  modelDir,
  readModelFolder,
  removeModel,
  renameModel,
  setFlagScore,
  slug,
  writeModelFolder,
  zipModelFolder,
} from '../../src-main/store/index.js';
import { DISK_RESERVE } from '../../src-main/data/disk-space.js';
import { toSummary } from '../../src-main/service/model-cache.js';
import { fakeMeta, fakeWeights } from './fake-model.js';

let home: string;
beforeEach(async () => {
  home = await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-models-'));
});
afterEach(() => fs.rm(home, { recursive: true, force: true }));

const write = (id: string, name = id, createdAt = '2026-01-01T00:00:00.000Z') =>
  writeModelFolder(modelDir(home, id), fakeMeta({ id, name, createdAt }), fakeWeights());

describe('models store', () => {
  it('lists newest first, reporting broken folders without throwing', async () => {
    await write('a', 'A', '2026-01-01T00:00:00.000Z');
    await write('b', 'B', '2026-02-01T00:00:00.000Z');
    await fs.mkdir(path.join(home, 'models', 'junk'));
    await fs.mkdir(path.join(home, 'models', '.tmp-in-progress'));
    const { models, broken } = await listModels(home);
    expect(models.map((m) => m.id)).toEqual(['b', 'a']);
    expect(broken.map((b) => b.id)).toEqual(['junk']);
    expect(broken[0]!.reason).toMatch(/no model\.json/);
  });

  it('lists nothing when there is no models folder', async () => {
    expect(await listModels(home)).toEqual({ models: [], broken: [] });
  });

  it('renames atomically, keeping weights valid', async () => {
    await write('a', 'A');
    const renamed = await renameModel(home, 'a', 'Better name');
    expect(renamed.name).toBe('Better name');
    expect((await getModel(home, 'a')).name).toBe('Better name');
    await expect(readModelFolder(modelDir(home, 'a'))).resolves.toBeTruthy();
    expect((await fs.readdir(modelDir(home, 'a'))).sort()).toEqual(['model.json', 'weights.bin']);
  });

  it('removes a model', async () => {
    await write('a');
    await removeModel(home, 'a');
    expect((await listModels(home)).models).toEqual([]);
    expect(await fs.readdir(path.join(home, 'models'))).toEqual([]);
    await expect(removeModel(home, 'a')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses ids that could escape the models folder', () => {
    expect(() => modelDir(home, '..')).toThrow();
    expect(() => modelDir(home, '../x')).toThrow();
    expect(() => modelDir(home, 'a/b')).toThrow();
  });

  it('exports a zip and imports it under a fresh id', async () => {
    await write('a', 'My Cats!');
    const { fileName, zip } = await zipModelFolder(modelDir(home, 'a'));
    expect(fileName).toBe('my-cats.rank1.zip');
    const imported = await importModel(home, { zip });
    expect(imported.id).not.toBe('a');
    expect(imported.id).toMatch(/^my-cats-[0-9a-f]{6}$/);
    expect(imported.name).toBe('My Cats!');
    const back = await readModelFolder(modelDir(home, imported.id));
    expect(back.meta.id).toBe(imported.id);
    expect((await listModels(home)).models).toHaveLength(2);
  });

  it('imports a zip whose files sit in one folder, and a model folder', async () => {
    const src = path.join(home, 'src');
    await writeModelFolder(src, fakeMeta({ name: 'x' }), fakeWeights());
    const zip = zipSync({
      'x/model.json': await fs.readFile(path.join(src, 'model.json')),
      'x/weights.bin': await fs.readFile(path.join(src, 'weights.bin')),
    });
    expect((await importModel(home, { zip })).name).toBe('x');
    expect((await importModel(home, { dir: src })).name).toBe('x');
  });

  it("isModelBackupZip: only a zip whose model.json is a Rank-1 Studio model's is a backup of ours", async () => {
    await write('a');
    const ours = path.join(home, 'ours.zip');
    await fs.writeFile(ours, (await zipModelFolder(modelDir(home, 'a'))).zip);
    expect(await isModelBackupZip(ours)).toBe(true);
    // A TF.js model zipped by its user also holds a model.json: theirs, not a backup.
    const tfjs = path.join(home, 'tfjs.zip');
    await fs.writeFile(
      tfjs,
      zipSync({ 'model.json': Buffer.from('{"modelTopology": {}, "weightsManifest": []}') }),
    );
    const text = path.join(home, 'photos.zip');
    await fs.writeFile(text, 'PK\x03\x04 not a model');
    for (const file of [tfjs, text, path.join(home, 'absent.zip'), home])
      expect(await isModelBackupZip(file), file).toBe(false);
    // The same folder rule as an import: model.json in one top-level folder counts.
    const nested = path.join(home, 'nested.zip');
    const json = await fs.readFile(path.join(modelDir(home, 'a'), 'model.json'));
    await fs.writeFile(nested, zipSync({ 'a/model.json': json }));
    expect(await isModelBackupZip(nested)).toBe(true);
  });

  it('refuses tampered, non-zip and incomplete imports, leaving nothing behind', async () => {
    const src = path.join(home, 'src');
    await writeModelFolder(src, fakeMeta(), fakeWeights());
    const weights = await fs.readFile(path.join(src, 'weights.bin'));
    weights[0] = weights[0]! ^ 1;
    const tampered = zipSync({
      'model.json': await fs.readFile(path.join(src, 'model.json')),
      'weights.bin': weights,
    });
    await expect(importModel(home, { zip: tampered })).rejects.toThrow(/SHA-256/);
    await expect(importModel(home, { zip: Buffer.from('not a zip at all') })).rejects.toBeInstanceOf(
      ModelImportError,
    );
    await expect(importModel(home, { zip: zipSync({ 'readme.txt': Buffer.from('hi') }) })).rejects.toThrow(
      /no model\.json/,
    );
    // Zip-slip names are ignored, never written.
    const evil = zipSync({
      '../../evil/model.json': Buffer.from('{}'),
      'a/b/c/weights.bin': Buffer.from('x'),
    });
    await expect(importModel(home, { zip: evil })).rejects.toBeInstanceOf(ModelImportError);
    expect(await fs.readdir(path.join(home, 'models'))).toEqual([]);
  });

  it('refuses a model folder whose files are links leading out of it, reading and copying nothing', async () => {
    // The folder was granted; what its links point at was not (granted folders are a wall).
    const outside = path.join(home, 'outside');
    await writeModelFolder(outside, fakeMeta({ name: 'outside' }), fakeWeights(7));
    for (const name of ['model.json', 'weights.bin']) {
      const src = path.join(home, `src-${name}`);
      await writeModelFolder(src, fakeMeta({ name: 'x' }), fakeWeights(7));
      await fs.rm(path.join(src, name));
      await fs.symlink(path.join(outside, name), path.join(src, name));
      await expect(importModel(home, { dir: src })).rejects.toThrow(new RegExp(`${name} is a link`));
    }
    expect(await fs.readdir(path.join(home, 'models')).catch(() => [])).toEqual([]);
  });

  it('a zip whose weights.bin would unpack to more than its model.json says is refused before unpacking it', async () => {
    // A few hundred kB of deflated zeros that would inflate to 64 MB (a zip bomb, in small).
    const src = path.join(home, 'src');
    await writeModelFolder(src, fakeMeta(), fakeWeights());
    const bomb = zipSync({
      'model.json': await fs.readFile(path.join(src, 'model.json')),
      'weights.bin': [new Uint8Array(64 * 2 ** 20), { level: 9 }],
    });
    expect(bomb.byteLength).toBeLessThan(2 ** 20);
    await expect(importModel(home, { zip: bomb })).rejects.toThrow(
      /^weights\.bin in the zip unpacks to 67108864 bytes; its model\.json says \d+ \(not a model export, or damaged\)$/,
    );
    expect(await fs.readdir(path.join(home, 'models')).catch(() => [])).toEqual([]);
  });

  it('an import that would leave less than the reserve free on the disk is refused in one line naming the zip or folder and both sizes, writing nothing', async () => {
    const src = path.join(home, 'src');
    await writeModelFolder(src, fakeMeta({ name: 'x' }), fakeWeights());
    const { zip } = await zipModelFolder(src);
    const needs =
      (await fs.stat(path.join(src, 'model.json'))).size +
      (await fs.stat(path.join(src, 'weights.bin'))).size;
    const asked: string[] = [];
    const hundredMb = async (dir: string) => {
      asked.push(dir);
      return 100 * 2 ** 20;
    };
    const oneLine = (name: string) =>
      new RegExp(
        `^${name.replace(/[.]/g, '\\.')}: the model needs ${Math.ceil(needs / 1024)} kB and the disk of the models folder has 100\\.0 MB free; 256\\.0 MB must stay free \\(nothing was written\\)$`,
      );
    const zipErr = await importModel(home, { zip, name: 'x.rank1.zip' }, { freeSpace: hundredMb }).catch(
      (e: unknown) => e,
    );
    expect(zipErr).toBeInstanceOf(ModelImportError);
    expect((zipErr as Error).message).toMatch(oneLine('x.rank1.zip'));
    const dirErr = await importModel(home, { dir: src }, { freeSpace: hundredMb }).catch((e: unknown) => e);
    expect((dirErr as Error).message).toMatch(oneLine(src));
    // The disk asked about is the models folder's (or, before it exists, the data home's).
    expect(asked.every((d) => d === home || d === path.join(home, 'models'))).toBe(true);
    expect(await fs.readdir(path.join(home, 'models')).catch(() => [])).toEqual([]);
    // With the reserve and the model's bytes free, both import.
    const enough = async () => DISK_RESERVE + needs;
    expect((await importModel(home, { zip }, { freeSpace: enough })).name).toBe('x');
    expect((await importModel(home, { dir: src }, { freeSpace: enough })).name).toBe('x');
  });

  it('the space check counts what model.json declares before anything is unpacked (1.5 GB of weights declared)', async () => {
    // A model.json that declares 1.5 GB of weights: refused on a disk with 1 GB free, before its
    // weights.bin is inflated (the small one in this zip would fail its size check later).
    const src = path.join(home, 'src');
    const meta = await writeModelFolder(src, fakeMeta({ name: 'big' }), fakeWeights());
    const huge = 1.5 * 2 ** 30;
    const declared = {
      ...meta,
      weights: {
        ...meta.weights,
        specs: [
          ...meta.weights.specs,
          { name: 'huge', shape: [huge / 4 / 2 ** 14, 2 ** 14], dtype: 'float32' as const },
        ],
        bytes: meta.weights.bytes + huge,
      },
    };
    const zip = zipSync({
      'model.json': Buffer.from(JSON.stringify(declared)),
      'weights.bin': await fs.readFile(path.join(src, 'weights.bin')),
    });
    await expect(importModel(home, { zip }, { freeSpace: async () => 2 ** 30 })).rejects.toThrow(
      /^the zip: the model needs 1\.50 GB and the disk of the models folder has 1\.00 GB free/,
    );
    expect(await fs.readdir(path.join(home, 'models')).catch(() => [])).toEqual([]);
  });

  it('summaries drop internal fields', async () => {
    const meta = await write('a');
    const s = toSummary({
      ...meta,
      ood: { score: 'mahalanobis', threshold: 1, tpr: 0.95, thresholds: { mahalanobis: 1, knn: 0.5 } },
    });
    expect(s.ood).toEqual({
      score: 'mahalanobis',
      threshold: 1,
      tpr: 0.95,
      thresholds: { mahalanobis: 1, knn: 0.5 },
    });
    expect('weights' in s).toBe(false);
  });

  it('slugs names', () => {
    expect(slug('Élan Vital — v2')).toBe('elan-vital-v2');
    expect(slug('!!!')).toBe('model');
  });

  it('setFlagScore switches the flag to another fitted score and refuses an unfitted one', async () => {
    const meta = await write('flag');
    const { writeFileAtomic } = await import('../../src-main/store/atomic.js');
    await writeFileAtomic(
      path.join(modelDir(home, meta.id), 'model.json'),
      JSON.stringify({
        ...meta,
        ood: { score: 'mahalanobis', threshold: 9, tpr: 0.95, thresholds: { mahalanobis: 9, knn: 0.4 } },
      }),
    );
    const next = await setFlagScore(home, meta.id, 'knn');
    expect(next.ood).toMatchObject({ score: 'knn', threshold: 0.4 });
    expect((await getModel(home, meta.id)).ood?.score).toBe('knn');
    await expect(setFlagScore(home, meta.id, 'energy')).rejects.toThrow(
      /no fitted threshold for "energy".*available: mahalanobis, knn/,
    );
  });
});

describe('incomplete models (issue 15 item 2)', () => {
  /** What a run cancelled after epoch 1 of 5 leaves: a resumable checkpoint, no OOD threshold. */
  const checkpoint = (id: string, createdAt: string) => {
    const base = fakeMeta({ id, name: id, createdAt, metrics: { val: { n: 30, accuracy: 0.33 } } });
    return writeModelFolder(
      modelDir(home, id),
      { ...base, train: { ...base.train, epochs: 5 }, epoch: 1 },
      fakeWeights(),
    );
  };

  it('the listing says incomplete (epoch 1 of 5), with one accuracy and the images it was measured on', async () => {
    await checkpoint('cancelled', '2026-03-01T00:00:00.000Z');
    const { models } = await listModels(home);
    const summary = toSummary(models[0]!);
    expect(summary).toMatchObject({
      id: 'cancelled',
      status: 'incomplete',
      epoch: 1,
      epochs: 5,
      accuracy: { value: 0.33, split: 'val', count: 30 },
    });
    expect(summary.warning).toMatch(/no OOD threshold yet/);
  });

  it('is never picked as the default model, even when it is the newest', async () => {
    await write('finished', 'Finished', '2026-01-01T00:00:00.000Z');
    await checkpoint('cancelled', '2026-03-01T00:00:00.000Z');
    const listing = (await listModels(home)).models.map(toSummary);
    expect(listing.map((m) => m.id)).toEqual(['cancelled', 'finished']);
    expect(defaultModel(listing)?.id).toBe('finished');
    expect(defaultModel(listing.filter((m) => m.id === 'cancelled'))).toBeUndefined();
  });

  it('prefers a complete model of the user over the demo', async () => {
    await writeModelFolder(
      modelDir(home, 'demo'),
      fakeMeta({ id: 'demo', demo: true, createdAt: '2026-05-01T00:00:00.000Z' }),
      fakeWeights(),
    );
    await write('mine', 'Mine', '2026-01-01T00:00:00.000Z');
    expect(defaultModel((await listModels(home)).models.map(toSummary))?.id).toBe('mine');
  });

  it('can be deleted', async () => {
    await checkpoint('cancelled', '2026-03-01T00:00:00.000Z');
    await removeModel(home, 'cancelled');
    expect(await listModels(home)).toEqual({ models: [], broken: [] });
    expect(await fs.readdir(path.join(home, 'models'))).toEqual([]);
  });
});

describe('leftovers in the models folder (issue 13 item 4)', () => {
  it('finishes an interrupted removal and drops a stale import, keeping a fresh one and foreign files', async () => {
    await write('kept');
    const models = path.join(home, 'models');
    const removing = path.join(models, '.gone.removing-abc123');
    await writeModelFolder(removing, fakeMeta(), fakeWeights());
    const stale = path.join(models, '.import-0000aaaa');
    const fresh = path.join(models, '.import-1111bbbb');
    const foreign = path.join(models, '.import-2222cccc');
    for (const d of [stale, fresh, foreign]) {
      await fs.mkdir(d);
      await fs.writeFile(path.join(d, 'model.json'), '{}');
    }
    await fs.writeFile(path.join(foreign, 'thesis.txt'), 'kept');
    const old = new Date(Date.now() - 2 * 3600_000);
    await fs.utimes(stale, old, old);
    await fs.utimes(foreign, old, old);
    const { models: listed } = await listModels(home);
    expect(listed.map((m) => m.id)).toEqual(['kept']);
    expect((await fs.readdir(models)).sort()).toEqual(['.import-1111bbbb', '.import-2222cccc', 'kept']);
  });
});
