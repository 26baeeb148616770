import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src-main/engine/backends/index.js';
import { loadModel, type LoadedModel, type Prediction } from '../../src-main/engine/predict.js';
import { trainModel } from '../../src-main/engine/train.js';
import { FACTOR_PREFIX } from '../../src-main/engine/models/prediction-factors.js';
import { ModelFormatError, readModelFolder, writeModelFolder } from '../../src-main/engine/model-format.js';
import { fakeMeta, fakeWeights } from '../store/fake-model.js';
import { loadGreySet, memorySet, SHARED, split } from './helpers.js';

const prep = {
  size: 28,
  channels: 1 as const,
  fit: 'cover' as const,
  background: { r: 255, g: 255, b: 255 },
};
const N = 100;
const SIZE = 28 * 28;
let dir: string;
let modelDir: string;
let pixels: Uint8Array;

beforeAll(async () => {
  await initBackend('wasm');
  const data = await loadGreySet(nodePath.join(SHARED, 'data/mnist'), 12);
  const { train, val } = split(data.set, 4);
  dir = mkdtempSync(nodePath.join(tmpdir(), 'rank1-predict-'));
  modelDir = nodePath.join(dir, 'm');
  await trainModel({
    train,
    val,
    classes: data.classes,
    preprocessing: prep,
    id: 'm',
    outDir: modelDir,
    model: { arch: 'cnn', method: 'rank1', members: 2 },
    config: { epochs: 1, batchSize: 16, seed: 3 },
  });
  // 100 images: the 90 training-folder digits and 10 notMNIST letters (far from the training data).
  const digits = await data.set.read(Array.from({ length: N - 10 }, (_, i) => i));
  const letters = await loadGreySet(nodePath.join(SHARED, 'data/notmnist'), 1);
  pixels = new Uint8Array(N * SIZE);
  pixels.set(digits, 0);
  pixels.set(
    (await letters.set.read(Array.from({ length: 10 }, (_, i) => i))).subarray(0, 10 * SIZE),
    digits.length,
  );
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const image = (i: number) => pixels.subarray(i * SIZE, (i + 1) * SIZE);

async function eachAlone(m: LoadedModel, samples?: number): Promise<Prediction[]> {
  const out: Prediction[] = [];
  for (let i = 0; i < N; i++) out.push(...(await m.predict(image(i), 1, { samples })));
  return out;
}

function reversed(): Uint8Array {
  const out = new Uint8Array(N * SIZE);
  for (let i = 0; i < N; i++) out.set(image(N - 1 - i), i * SIZE);
  return out;
}

/** Every number a card shows, to float tolerance; the flag exactly. */
function expectSameRows(a: Prediction[], b: Prediction[]): void {
  expect(b.length).toBe(a.length);
  a.forEach((p, i) => {
    const q = b[i]!;
    expect(q.labelIndex).toBe(p.labelIndex);
    q.probabilities.forEach((v, c) => expect(v).toBeCloseTo(p.probabilities[c]!, 5));
    expect(q.entropy).toBeCloseTo(p.entropy, 5);
    expect(q.expectedEntropy).toBeCloseTo(p.expectedEntropy, 5);
    expect(q.mutualInformation).toBeCloseTo(p.mutualInformation, 5);
    for (const [name, v] of Object.entries(p.scores)) {
      if (Number.isNaN(v)) expect(q.scores[name]).toBeNaN();
      else expect(Math.abs(q.scores[name]! - v)).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(v)));
    }
    expect(q.ood).toBe(p.ood);
  });
}

describe('prediction is a function of the image alone (issue 17 item 1)', () => {
  it('each image alone, all together and reversed give the same rows', async () => {
    const m = await loadModel(modelDir);
    try {
      const together = await m.predict(pixels, N);
      const alone = await eachAlone(m);
      const back = (await m.predict(reversed(), N)).reverse();
      expectSameRows(together, alone);
      expectSameRows(together, back);
      // several samples per member: still fixed per image
      const s3 = await m.predict(pixels, N, { samples: 3 });
      expectSameRows(s3, (await m.predict(reversed(), N, { samples: 3 })).reverse());
    } finally {
      m.dispose();
    }
  });

  it('in-process and worker-thread prediction give the same rows', async () => {
    const saved = process.env.RANK1_WORKERS;
    const load = async (workers: string | undefined) => {
      if (workers === undefined) delete process.env.RANK1_WORKERS;
      else process.env.RANK1_WORKERS = workers;
      try {
        return await loadModel(modelDir);
      } finally {
        if (saved === undefined) delete process.env.RANK1_WORKERS;
        else process.env.RANK1_WORKERS = saved;
      }
    };
    const inProcess = await load('0');
    const pooled = await load('2');
    try {
      const a = await inProcess.predict(pixels, N);
      expectSameRows(a, await pooled.predict(pixels, N));
      expectSameRows(a, (await pooled.predict(reversed(), N)).reverse());
    } finally {
      inProcess.dispose();
      pooled.dispose();
    }
  });
});

describe('the values prediction uses', () => {
  it('a folder without stored values (older app) derives the same ones (default plan, its training seed)', async () => {
    const { meta, weights } = await readModelFolder(modelDir);
    expect(meta.prediction).toEqual({ mode: 'samples', samples: 1, seed: 3 });
    expect(weights.some((w) => w.name.startsWith(FACTOR_PREFIX))).toBe(true);
    const old = nodePath.join(dir, 'old');
    const { prediction: _p, weights: _w, format: _f, formatVersion: _v, ...rest } = meta;
    await writeModelFolder(
      old,
      rest,
      weights.filter((w) => !w.name.startsWith(FACTOR_PREFIX)),
    );
    const [a, b] = [await loadModel(modelDir), await loadModel(old)];
    try {
      expectSameRows(await a.predict(pixels, N), await b.predict(pixels, N));
      const [fa, fb] = [await a.predictionFactors(), await b.predictionFactors()];
      expect(fb.layers.map((l) => l.name)).toEqual(fa.layers.map((l) => l.name));
      fa.layers.forEach((l, i) => expect(Array.from(fb.layers[i]!.gamma)).toEqual(Array.from(l.gamma)));
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it('predictionFactors gives M = S·K rows per layer, and evaluate reports what predict shows', async () => {
    const m = await loadModel(modelDir);
    try {
      const f = await m.predictionFactors();
      expect([f.members, f.samples, f.effectiveMembers]).toEqual([2, 1, 2]);
      const head = f.layers.find((l) => l.name === 'head')!;
      expect(head.alpha.length).toBe(2 * head.inputDim);
      expect(head.gamma.length).toBe(2 * 10);
      expect(head.bias!.length).toBe(2 * 10);
      expect((await m.predictionFactors({ samples: 3 })).effectiveMembers).toBe(6);

      const preds = await m.predict(pixels, N);
      const set = memorySet(
        Array.from({ length: N }, (_, i) => image(i).slice()),
        preds.map((p) => p.labelIndex),
        Array.from({ length: N }, (_, i) => `${i}.png`),
        28,
        1,
      );
      const report = await m.evaluate(set);
      report.items.forEach((it, i) => {
        expect(it.predicted).toBe(preds[i]!.labelIndex);
        expect(it.confidence).toBeCloseTo(preds[i]!.confidence, 5);
        expect(it.entropy).toBeCloseTo(preds[i]!.entropy, 5);
        expect(it.mutualInformation).toBeCloseTo(preds[i]!.mutualInformation, 5);
      });
      expect(report.metrics.accuracy).toBe(1);
      expect(report.metrics.temperature).toBe(m.temperature);
      expect(report.metrics.nll_uncalibrated).toBeGreaterThan(0);
      expect(report.metrics.reliability_uncalibrated!.length).toBe(report.metrics.reliability.length);
    } finally {
      m.dispose();
    }
  });

  it('stores the fitted temperature; predict and evaluate use it, T = 1 gives the uncalibrated numbers', async () => {
    const { meta, weights } = await readModelFolder(modelDir);
    const T = meta.calibration!.temperature;
    expect(T).toBeGreaterThan(0);
    expect(T).not.toBe(1);
    const plain = nodePath.join(dir, 'plain');
    const { calibration: _c, weights: _w, format: _f, formatVersion: _v, ...rest } = meta;
    await writeModelFolder(plain, rest, weights);
    const [m, u] = [await loadModel(modelDir), await loadModel(plain)];
    try {
      expect([m.temperature, u.temperature]).toEqual([T, 1]);
      const set = memorySet(
        Array.from({ length: 90 }, (_, i) => image(i).slice()),
        Array.from({ length: 90 }, (_, i) => Math.floor(i / 12)),
        Array.from({ length: 90 }, (_, i) => `${i}.png`),
        28,
        1,
      );
      const [rm, ru] = [await m.evaluate(set), await u.evaluate(set)];
      expect(rm.metrics.nll_uncalibrated).toBeCloseTo(ru.metrics.nll, 5);
      expect(rm.metrics.ece_uncalibrated).toBeCloseTo(ru.metrics.ece, 5);
      expect(rm.metrics.nll).not.toBeCloseTo(ru.metrics.nll, 5);
      const [pm, pu] = [await m.predict(pixels, 5), await u.predict(pixels, 5)];
      expect(pm[0]!.probabilities).not.toEqual(pu[0]!.probabilities);
      expect(pm[0]!.scores.energy).toBeCloseTo(pu[0]!.scores.energy, 5); // logit-based, untempered
    } finally {
      m.dispose();
      u.dispose();
    }
  });
});

describe('an untrusted model.json cannot make loading allocate what its weights do not hold', () => {
  it('a hidden layer far wider than weights.bin could hold is one ModelFormatError naming the field, before the network is built', async () => {
    // Schema-valid numbers (1024-px input, 65,536 units): the first layer alone would be 2^36 weights.
    const bomb = nodePath.join(dir, 'bomb');
    const meta = fakeMeta({
      config: { ...fakeMeta().config, arch: 'mlp', inputShape: [1024, 1024, 1], hidden: 65_536 },
      preprocessing: { size: 1024, channels: 1, fit: 'cover', background: { r: 255, g: 255, b: 255 } },
    });
    await writeModelFolder(bomb, meta, fakeWeights());
    const err = await loadModel(bomb).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelFormatError);
    expect((err as ModelFormatError).detail).toMatch(
      /^model\.json: config\.hidden 65536 makes a layer of 68719476736 weights; weights\.bin holds 15 in all/,
    );
  });
});
