/**
 * Proof that the exported file is the same model (issue 17 item 3): the ONNX file, run with
 * onnxruntime-node, and the engine's prediction (what `rank1 predict` shows) on the same pixels
 * from the app's decoder, over 200 images each (150 in-distribution, 50 notMNIST letters), for the
 * demo model, a from-scratch rank-1 CNN (RGB, S = 2 draws per member), a resnet20, a MobileNet
 * transfer model (the backbone inside the file) and a fine-tuned one (prefix, rank-1 block, head).
 * Batch 1 and batch 64 give the same rows.
 */
import { promises as fs, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importDataset } from '../../../src-main/data/index.js';
import { initBackend } from '../../../src-main/engine/backends/index.js';
import { prepareTransfer } from '../../../src-main/engine/backbones/index.js';
import { trainModel } from '../../../src-main/engine/train.js';
import { loadGreySet, split } from '../helpers.js';
import { SHARED } from '../../shared-data.js';
import {
  checkParity,
  cifarFiles,
  cifarSet,
  CIFAR,
  DEMO,
  digitFiles,
  IN_DIST,
  letterFiles,
  LETTERS,
} from './parity.js';

let tmp: string;
const savedHome = process.env.RANK1_HOME;

beforeAll(async () => {
  await initBackend('wasm');
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-export-'));
  process.env.RANK1_HOME = path.join(tmp, 'home');
});

afterAll(async () => {
  if (savedHome === undefined) delete process.env.RANK1_HOME;
  else process.env.RANK1_HOME = savedHome;
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('the exported ONNX file gives the numbers prediction gives (issue 17 item 3)', () => {
  it('demo model: 150 digits and 50 notMNIST letters, metadata included', async () => {
    const { exported, want, onnx } = await checkParity(DEMO, [...digitFiles(), ...letterFiles()]);
    const meta = exported.metadata;
    expect(JSON.parse(meta.classes!)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(meta).toMatchObject({
      flag_score: 'mahalanobis',
      method: 'rank1',
      members: '4',
      app_version: 'test',
    });
    expect(Number(meta.flag_threshold)).toBeGreaterThan(0);
    expect(JSON.parse(meta.preprocessing!)).toMatchObject({ size: 28, channels: 1, fit: 'cover' });
    // The letters are what the flag is for: most of them flagged, most digits not.
    const flagged = onnx.ood.filter(Boolean).length;
    expect(onnx.ood.slice(IN_DIST).filter(Boolean).length).toBeGreaterThan(LETTERS / 2);
    expect(flagged).toBeLessThan(IN_DIST / 2 + LETTERS);
    expect(want).toHaveLength(IN_DIST + LETTERS);
  });

  it('a from-scratch rank-1 CNN on RGB images, two draws per member (S = 2)', async () => {
    const { train, val } = split(await cifarSet(20), 4);
    const dir = path.join(tmp, 'cnn');
    await trainModel({
      train,
      val,
      classes: CIFAR,
      preprocessing: { size: 32, channels: 3, fit: 'cover', background: { r: 255, g: 255, b: 255 } },
      id: 'cnn',
      outDir: dir,
      model: { arch: 'cnn', method: 'rank1', members: 2 },
      config: { epochs: 1, batchSize: 16, seed: 5 },
    });
    const { exported } = await checkParity(dir, [...cifarFiles(), ...letterFiles()], 2);
    expect(exported.metadata).toMatchObject({ samples: '2', members: '2', effective_members: '4' });
    // Calibrated at training: the member softmaxes in the file are tempered too.
    expect(Number(exported.metadata.temperature)).not.toBe(1);
  });

  it('a resnet20', async () => {
    const data = await loadGreySet(`${SHARED}/data/mnist`, 4);
    const { train, val } = split(data.set, 3);
    const dir = path.join(tmp, 'resnet20');
    await trainModel({
      train,
      val,
      classes: data.classes,
      preprocessing: { size: 28, channels: 1, fit: 'cover', background: { r: 255, g: 255, b: 255 } },
      id: 'resnet20',
      outDir: dir,
      model: { arch: 'resnet20', method: 'rank1', members: 2 },
      config: { epochs: 1, batchSize: 20, seed: 9 },
    });
    await checkParity(dir, [...digitFiles(), ...letterFiles()]);
  });

  it('the ensemble baseline (K kernels and BatchNorms per layer), 40 images', async () => {
    const data = await loadGreySet(`${SHARED}/data/mnist`, 3);
    const { train, val } = split(data.set, 3);
    const dir = path.join(tmp, 'ensemble');
    await trainModel({
      train,
      val,
      classes: data.classes,
      preprocessing: { size: 28, channels: 1, fit: 'cover', background: { r: 255, g: 255, b: 255 } },
      id: 'ensemble',
      outDir: dir,
      model: { arch: 'cnn', method: 'ensemble', members: 3 },
      config: { epochs: 1, batchSize: 10, seed: 4 },
    });
    await checkParity(dir, [...digitFiles().slice(0, 30), ...letterFiles().slice(0, 10)]);
  });

  it('a MobileNet transfer model carries its backbone', async () => {
    const root = path.join(tmp, 'cifar3');
    for (const c of CIFAR) {
      await fs.mkdir(path.join(root, c), { recursive: true });
      for (const f of readdirSync(`${SHARED}/data/cifar10/train/${c}`).sort().slice(0, 12))
        await fs.copyFile(`${SHARED}/data/cifar10/train/${c}/${f}`, path.join(root, c, f));
    }
    const ds = await importDataset(root, { imageSize: 32, valFraction: 0.25 });
    const backbone = await prepareTransfer('mobilenet-v1-0.25', ds);
    const dir = path.join(tmp, 'transfer');
    await trainModel({
      train: ds.splits.train,
      val: ds.splits.val,
      classes: ds.classes,
      preprocessing: ds.preprocessing,
      id: 'transfer',
      outDir: dir,
      backbone,
      config: { epochs: 2, seed: 2 },
    });
    const { exported } = await checkParity(dir, [...cifarFiles(), ...letterFiles()]);
    expect(exported.metadata.backbone).toBe('mobilenet-v1-0.25');
  });

  it('a fine-tuned MobileNet model (its last block with rank-1 factors) carries prefix, block and head', async () => {
    const root = path.join(tmp, 'cifar3-ft');
    for (const c of CIFAR) {
      await fs.mkdir(path.join(root, c), { recursive: true });
      for (const f of readdirSync(`${SHARED}/data/cifar10/train/${c}`).sort().slice(0, 12))
        await fs.copyFile(`${SHARED}/data/cifar10/train/${c}/${f}`, path.join(root, c, f));
    }
    const ds = await importDataset(root, { imageSize: 32, valFraction: 0.25 });
    const backbone = await prepareTransfer('mobilenet-v1-0.25', ds, { fineTune: 1 });
    const dir = path.join(tmp, 'fine-tuned');
    await trainModel({
      train: ds.splits.train,
      val: ds.splits.val,
      classes: ds.classes,
      preprocessing: ds.preprocessing,
      id: 'fine-tuned',
      outDir: dir,
      backbone,
      config: { epochs: 2, seed: 3 },
    });
    const { exported } = await checkParity(dir, [...cifarFiles(), ...letterFiles()]);
    expect(exported.metadata.backbone).toBe('mobilenet-v1-0.25');
  });
});
