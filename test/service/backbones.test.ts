/**
 * "Import a backbone…" through the service (issue 15): a TF.js folder is checked and registered
 * as `imported-<12 hex>` under the data home; a model trained on it stores that name (never a
 * path), is read back by the model.json schema, and predicts after the original folder is gone.
 * A backbone given as a path to train.start is registered the same way.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceClient, type PredictionRow } from '../../src-main/contract.js';
import { createService, type Service } from '../../src-main/service/index.js';
import { readModelMeta, modelDir } from '../../src-main/store/index.js';
import { copyClasses, SHARED } from '../shared-data.js';
import { saveTinyBackbone } from '../tfjs-folder.js';

const CIFAR = `${SHARED}/data/cifar10/train`;
const CLASSES = ['airplane', 'automobile'];

let tmp: string;
let home: string;
let ds: string;
let folder: string;
let service: Service;
let client: ServiceClient;
const savedHome = process.env.RANK1_HOME;

beforeAll(async () => {
  tmp = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-backbones-')));
  home = path.join(tmp, 'home');
  process.env.RANK1_HOME = home;
  ds = copyClasses(CIFAR, path.join(tmp, 'photos'), CLASSES, 10);
  folder = path.join(tmp, 'my-backbone');
  await saveTinyBackbone(folder, 6);
  service = createService({ home });
  service.grant(ds);
  service.grant(folder);
  client = new ServiceClient(service);
  await client.call('settings.set', { backend: 'cpu' });
});

afterAll(async () => {
  service?.dispose();
  if (savedHome === undefined) delete process.env.RANK1_HOME;
  else process.env.RANK1_HOME = savedHome;
  await fs.rm(tmp, { recursive: true, force: true });
});

const train = (backbone: string, name: string) =>
  client.run<'train'>('train.start', {
    dataset: ds,
    name,
    backbone,
    preset: 'quick',
    epochs: 1,
    members: 2,
    batchSize: 8,
    imageSize: 32,
  });

describe('backbones.import', () => {
  it(
    'registers a folder, trains on its name, and the model predicts without the folder',
    { timeout: 300_000 },
    async () => {
      const b = await client.call('backbones.import', { path: folder });
      expect(b.name).toMatch(/^imported-[0-9a-f]{12}$/);
      expect(b.imported).toBe(true);
      expect(b.embeddingSize).toBe(6);
      const listed = await client.call('backbones.list', {});
      expect(listed.map((x) => x.name)).toEqual(expect.arrayContaining(['mobilenet-v1-0.25', b.name]));
      expect(listed.find((x) => x.name === b.name)?.description).toBe('my-backbone');

      const model = await train(b.name, 'on imported');
      expect(model.backbone?.name).toBe(b.name);
      // The file on disk names no path and passes the model.json schema.
      const meta = await readModelMeta(modelDir(home, model.id));
      expect(meta.backbone?.name).toBe(b.name);
      expect(JSON.stringify(meta.backbone)).not.toContain(tmp);

      // The registered copy is used: the original folder may go.
      await fs.rename(folder, `${folder}-gone`);
      try {
        const rows: PredictionRow[] = [];
        const res = await client.run<'predict'>(
          'predict',
          { model: model.id, paths: [path.join(ds, 'airplane')] },
          (e) => {
            if (e.type === 'job.item') rows.push(e.item);
          },
        );
        expect(res.count).toBe(10);
        expect(rows.every((r) => !r.error && CLASSES.includes(r.label!))).toBe(true);
      } finally {
        await fs.rename(`${folder}-gone`, folder);
      }
    },
  );

  it(
    'a backbone given as a path to train.start is registered, not stored as a path',
    { timeout: 300_000 },
    async () => {
      const model = await train(folder, 'on a path');
      expect(model.backbone?.name).toMatch(/^imported-[0-9a-f]{12}$/);
      expect((await readModelMeta(modelDir(home, model.id))).backbone?.name).toBe(model.backbone?.name);
    },
  );

  it('refuses a folder that is not a TF.js model, and one outside the grants, in one line', async () => {
    await expect(client.call('backbones.import', { path: ds })).rejects.toMatchObject({
      code: 'bad-request',
      field: 'path',
      message: expect.stringMatching(/^Not a usable backbone: .*no readable model\.json/),
    });
    await expect(client.call('backbones.import', { path: os.tmpdir() })).rejects.toMatchObject({
      code: 'forbidden',
    });
  });
});
