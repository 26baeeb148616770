/**
 * Proof that the exported file is the same model (issue 17 item 3): the ONNX file, run with
 * onnxruntime-node, and the engine's prediction (what `rank1 predict` shows) on the same pixels
 * from the app's decoder, over 200 images each (150 in-distribution, 50 notMNIST letters), for the
 * demo model, a from-scratch rank-1 CNN (RGB, S = 2 draws per member), a resnet20 and a MobileNet
 * transfer model (the backbone inside the file). Batch 1 and batch 64 give the same rows.
 */
import { promises as fs, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importDataset, prepareImage } from '../../../src-main/data/index.js';
import { initBackend } from '../../../src-main/engine/backends/index.js';
import { prepareTransfer } from '../../../src-main/engine/backbones/index.js';
import { exportOnnx, ONNX_IO } from '../../../src-main/engine/export/index.js';
import { createSession, type OrtSessionInfo } from '../../../src-main/engine/onnx/runtime.js';
import { loadModel, type Prediction } from '../../../src-main/engine/predict.js';
import { trainModel } from '../../../src-main/engine/train.js';
import type { Preprocessing } from '../../../src-main/data/types.js';
import { loadGreySet, memorySet, split } from '../helpers.js';
import { SHARED } from '../../shared-data.js';

const DEMO = path.resolve(__dirname, '../../../resources/demo/digits');
const CIFAR = ['airplane', 'automobile', 'frog'];
const IN_DIST = 150;
const LETTERS = 50;

let tmp: string;
const savedHome = process.env.RANK1_HOME;

/** `count` files spread over the class folders of `root`, skipping the first `skip` of each. */
function filesOf(root: string, classes: string[], count: number, skip: number): string[] {
  const per = Math.ceil(count / classes.length);
  return classes
    .flatMap((c) =>
      readdirSync(path.join(root, c))
        .sort()
        .slice(skip, skip + per)
        .map((f) => path.join(root, c, f)),
    )
    .slice(0, count);
}

const digitFiles = () =>
  filesOf(`${SHARED}/data/mnist`, readdirSync(`${SHARED}/data/mnist`).sort(), IN_DIST, 20);
const cifarFiles = () => filesOf(`${SHARED}/data/cifar10/train`, CIFAR, IN_DIST, 40);
const letterFiles = () =>
  filesOf(`${SHARED}/data/notmnist`, readdirSync(`${SHARED}/data/notmnist`).sort(), LETTERS, 0);

/** The pixels the app's decoder gives at the model's preprocessing, one image after another. */
async function decode(files: string[], prep: Preprocessing): Promise<Uint8Array> {
  const per = prep.size * prep.size * prep.channels;
  const out = new Uint8Array(files.length * per);
  for (const [i, f] of files.entries()) out.set((await prepareImage(f, prep)).pixels, i * per);
  return out;
}

interface OnnxRows {
  probs: Float32Array;
  entropy: Float32Array;
  aleatoric: Float32Array;
  epistemic: Float32Array;
  ood_score: Float32Array;
  ood: boolean[];
}

/** Runs the file over `n` images in batches of `batch`. */
async function runOnnx(s: OrtSessionInfo, px: Uint8Array, n: number, shape: number[], batch: number) {
  const per = shape.reduce((a, b) => a * b, 1);
  const parts: Record<string, number[] | boolean[]> = {};
  for (let start = 0; start < n; start += batch) {
    const b = Math.min(batch, n - start);
    const input = new s.ort.Tensor('uint8', px.subarray(start * per, (start + b) * per), [b, ...shape]);
    const out = await s.session.run({ [ONNX_IO.input]: input });
    for (const name of ONNX_IO.outputs) {
      const data = out[name]!.data as Float32Array | Uint8Array | boolean[];
      const list = (parts[name] ??= []) as (number | boolean)[];
      for (const v of data) list.push(name === 'ood' ? Boolean(v) : (v as number));
    }
  }
  return {
    probs: Float32Array.from(parts.probs as number[]),
    entropy: Float32Array.from(parts.entropy as number[]),
    aleatoric: Float32Array.from(parts.aleatoric as number[]),
    epistemic: Float32Array.from(parts.epistemic as number[]),
    ood_score: Float32Array.from(parts.ood_score as number[]),
    ood: parts.ood as boolean[],
  } satisfies OnnxRows;
}

const relClose = (a: number, b: number, tol: number) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

/** Every number of a Predict card within 1e-4 (relative for the OOD score); the flag exactly. */
function expectParity(want: Prediction[], got: OnnxRows, C: number): void {
  const bad: string[] = [];
  want.forEach((p, i) => {
    p.probabilities.forEach((v, c) => {
      if (!(Math.abs(got.probs[i * C + c]! - v) <= 1e-4))
        bad.push(`image ${i} p[${c}] ${got.probs[i * C + c]} vs ${v}`);
    });
    const pairs: [string, number, number][] = [
      ['entropy', got.entropy[i]!, p.entropy],
      ['aleatoric', got.aleatoric[i]!, p.expectedEntropy],
      ['epistemic', got.epistemic[i]!, p.mutualInformation],
    ];
    for (const [name, a, b] of pairs)
      if (!(Math.abs(a - b) <= 1e-4)) bad.push(`image ${i} ${name} ${a} vs ${b}`);
    if (!relClose(got.ood_score[i]!, p.flag!.value, 1e-4))
      bad.push(`image ${i} ood_score ${got.ood_score[i]} vs ${p.flag!.value}`);
    if (got.ood[i] !== p.ood) bad.push(`image ${i} ood ${got.ood[i]} vs ${p.ood}`);
  });
  expect(bad.slice(0, 10)).toEqual([]);
}

/** Batch 1 and batch 64 give the same rows (float tolerance, the flag exactly). */
function expectSameRows(a: OnnxRows, b: OnnxRows): void {
  for (const k of ['probs', 'entropy', 'aleatoric', 'epistemic', 'ood_score'] as const)
    a[k].forEach((v, i) => expect(relClose(b[k][i]!, v, 1e-5)).toBe(true));
  expect(b.ood).toEqual(a.ood);
}

async function checkParity(dir: string, files: string[], samples?: number) {
  const exported = await exportOnnx(dir, { samples, appVersion: 'test' });
  const model = await loadModel(dir);
  let want: Prediction[];
  let px: Uint8Array;
  try {
    px = await decode(files, model.meta.preprocessing);
    want = await model.predict(px, files.length, { samples });
  } finally {
    model.dispose();
  }
  const s = await createSession(exported.bytes, { providers: ['cpu'], threads: 2 });
  try {
    const b64 = await runOnnx(s, px, files.length, exported.imageShape, 64);
    expectParity(want, b64, model.meta.classes.length);
    expectSameRows(b64, await runOnnx(s, px, files.length, exported.imageShape, 1));
    return { exported, want, onnx: b64 };
  } finally {
    await s.session.release();
  }
}

/** RGB CIFAR images at 32 px, as the import would give them. */
async function cifarSet(perClass: number) {
  const px: Uint8Array[] = [];
  const labels: number[] = [];
  const files: string[] = [];
  for (const [ci, c] of CIFAR.entries())
    for (const f of readdirSync(`${SHARED}/data/cifar10/train/${c}`).sort().slice(0, perClass)) {
      const file = `${SHARED}/data/cifar10/train/${c}/${f}`;
      px.push(new Uint8Array(await sharp(file).removeAlpha().resize(32, 32).raw().toBuffer()));
      labels.push(ci);
      files.push(file);
    }
  return memorySet(px, labels, files, 32, 3);
}

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
});
