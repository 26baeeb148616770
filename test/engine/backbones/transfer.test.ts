/**
 * End to end: real CIFAR-10 images imported by the data room, embedded by the real MobileNet v1
 * (the copy shipped in resources/backbones), a rank-1 head trained by the real engine, then the model
 * folder loaded again (backbone fetched through RANK1_BACKBONE_BASE_URL) for prediction.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importDataset, type ImportedDataset } from '../../../src-main/data/index.js';
import { initBackend } from '../../../src-main/engine/backends/index.js';
import {
  loadBackbone,
  prepareTransfer,
  type TransferProgress,
} from '../../../src-main/engine/backbones/index.js';
import { loadModel } from '../../../src-main/engine/predict.js';
import { trainModel } from '../../../src-main/engine/train.js';
import { serveFolder, MODELS, type StaticServer } from './server.js';
import { SHARED } from '../../shared-data.js';

const CLASSES = ['airplane', 'automobile', 'frog'];
const PER_CLASS = 100;

let tmp: string;
let server: StaticServer;
let ds: ImportedDataset;

beforeAll(async () => {
  await initBackend('wasm');
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-transfer-'));
  process.env.RANK1_HOME = path.join(tmp, 'home');
  server = await serveFolder(MODELS);
  const root = path.join(tmp, 'cifar3');
  for (const c of CLASSES) {
    await fs.mkdir(path.join(root, c), { recursive: true });
    const files = (await fs.readdir(path.join(`${SHARED}/data/cifar10/train`, c))).sort().slice(0, PER_CLASS);
    for (const f of files)
      await fs.copyFile(path.join(`${SHARED}/data/cifar10/train`, c, f), path.join(root, c, f)); // links out are not followed
  }
  ds = await importDataset(root, { imageSize: 32, valFraction: 0.2 });
});

afterAll(async () => {
  delete process.env.RANK1_BACKBONE_BASE_URL;
  await server?.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('transfer learning end to end', () => {
  it('trains a rank-1 head on MobileNet v1 features and predicts from the saved folder', async () => {
    expect(ds.classes).toEqual(CLASSES);
    const events: TransferProgress[] = [];
    const backbone = await prepareTransfer('mobilenet-v1-0.25', ds, {
      baseUrl: server.url,
      onProgress: (p) => events.push(p),
    });
    expect(backbone).toBeDefined();
    expect(backbone!.train.count).toBe(ds.splits.train.count);
    expect(backbone!.val.dim).toBe(256);
    // MobileNet v1 0.25 ships with the app: no download (issue 15).
    expect(events.some((e) => e.phase === 'download')).toBe(false);
    expect(events.filter((e) => e.phase === 'embed').at(-1)).toMatchObject({
      split: 'val',
      done: ds.splits.val.count,
    });

    const outDir = path.join(tmp, 'model');
    const meta = await trainModel({
      train: ds.splits.train,
      val: ds.splits.val,
      classes: ds.classes,
      preprocessing: ds.preprocessing,
      id: 'transfer-e2e',
      outDir,
      backbone,
      config: { epochs: 3 },
    });
    expect(meta.config.arch).toBe('head');
    expect(meta.backbone).toEqual({
      name: 'mobilenet-v1-0.25',
      sha256: backbone!.sha256,
      embeddingSize: 256,
    });
    const last = meta.history.at(-1)!;
    expect(last.valAccuracy).toBeGreaterThan(0.5);

    // A second preparation is all cache: no downloads, no embedding work.
    const before = server.requests.length;
    const again = await prepareTransfer('mobilenet-v1-0.25', ds, { baseUrl: server.url });
    expect(server.requests.length).toBe(before);
    expect((again!.train as { computed?: number }).computed).toBe(0);

    // loadModel re-creates the backbone by name (from the shipped copy; the cache is not needed).
    await fs.rm(path.join(process.env.RANK1_HOME!, 'backbones'), { recursive: true, force: true });
    process.env.RANK1_BACKBONE_BASE_URL = server.url;
    const model = await loadModel(outDir);
    try {
      const n = 12;
      const idx = Array.from({ length: n }, (_, i) => i);
      const px = await ds.splits.val.read(idx);
      const preds = await model.predict(px, n);
      expect(preds).toHaveLength(n);
      for (const p of preds) {
        expect(CLASSES).toContain(p.label);
        expect(p.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
      }
      const report = await model.evaluate(ds.splits.val);
      expect(report.metrics.accuracy).toBeGreaterThan(0.5);
      // Prediction (from pixels) and evaluation (from cached features) sample the rank-1 weights
      // with different seeds, so borderline images may differ; the bulk must agree.
      const agree = preds.filter((p, i) => p.labelIndex === report.items[i]!.predicted).length;
      expect(agree).toBeGreaterThanOrEqual(n - 2);
      // The features behind evaluation are exactly what the backbone gives for those pixels.
      const bb = await loadBackbone({ name: meta.backbone!.name });
      expect(Array.from(await bb.embed(px, n, [32, 32, 3]))).toEqual(Array.from(await again!.val.read(idx)));
      bb.dispose();
    } finally {
      model.dispose();
    }
  }, 300_000);
});
