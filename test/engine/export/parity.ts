/**
 * Shared by the export parity tests: decoding files as the app does, running the exported file in
 * onnxruntime-node, and comparing it with the engine's prediction (issue 17 item 3).
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { expect } from 'vitest';
import { prepareImage } from '../../../src-main/data/index.js';
import type { Preprocessing } from '../../../src-main/data/types.js';
import { exportOnnx, ONNX_IO } from '../../../src-main/engine/export/index.js';
import { createSession, type OrtSessionInfo } from '../../../src-main/engine/onnx/runtime.js';
import { loadModel, type Prediction } from '../../../src-main/engine/predict.js';
import { memorySet } from '../helpers.js';
import { SHARED } from '../../shared-data.js';

export const DEMO = path.resolve(__dirname, '../../../resources/demo/digits');
export const CIFAR = ['airplane', 'automobile', 'frog'];
export const IN_DIST = 150;
export const LETTERS = 50;

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

export const digitFiles = () =>
  filesOf(`${SHARED}/data/mnist`, readdirSync(`${SHARED}/data/mnist`).sort(), IN_DIST, 20);
export const cifarFiles = () => filesOf(`${SHARED}/data/cifar10/train`, CIFAR, IN_DIST, 40);
export const letterFiles = () =>
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

export async function checkParity(dir: string, files: string[], samples?: number) {
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
export async function cifarSet(perClass: number) {
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
