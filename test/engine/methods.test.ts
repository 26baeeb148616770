import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src-main/engine/backends/index.js';
import { resolveModelConfig } from '../../src-main/engine/defaults.js';
import { buildModel } from '../../src-main/engine/models/index.js';
import { loadModel } from '../../src-main/engine/predict.js';
import { Rng } from '../../src-main/engine/random.js';
import { trainModel } from '../../src-main/engine/train.js';
import { METHODS, type Method } from '../../src-main/engine/types.js';
import { loadGreySet, SHARED, split } from './helpers.js';

let data: Awaited<ReturnType<typeof loadGreySet>>;
const made: string[] = [];
const shape = { size: 28, channels: 1 as const, count: 64, numClasses: 4 };

beforeAll(async () => {
  await initBackend('wasm');
  data = await loadGreySet(nodePath.join(SHARED, 'data/mnist'), 16, ['0', '1', '2', '3']);
});
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

const parameterCount = (method: Method) => {
  const model = buildModel(resolveModelConfig(shape, { method, hidden: 16 }), new Rng(1));
  const n = model.params().reduce((s, p) => s + p.variable.size, 0);
  model.dispose();
  return n;
};

describe('every method trains, saves, loads and predicts through the same API', () => {
  it.each(METHODS)(
    '%s',
    async (method) => {
      const out = nodePath.join(mkdtempSync(nodePath.join(tmpdir(), `rank1-${method}-`)), 'model');
      made.push(nodePath.dirname(out));
      const { train, val } = split(data.set, 4);
      const meta = await trainModel({
        train,
        val,
        classes: data.classes,
        preprocessing: { size: 28, channels: 1, fit: 'cover', background: { r: 255, g: 255, b: 255 } },
        id: method,
        outDir: out,
        // The mlp keeps this fast; the convolution and BatchNorm paths are tested below.
        model: { method, arch: 'mlp', hidden: 16 },
        config: { epochs: 2, batchSize: 16, seed: 3 },
      });
      expect(meta.config.method).toBe(method);
      expect(meta.metrics!.val!.n).toBe(val.count);
      expect(meta.ood!.threshold).toBeGreaterThan(0);

      const model = await loadModel(out);
      const px = await data.set.read([0, 17, 40]);
      const p = await model.predict(px, 3);
      expect(p).toHaveLength(3);
      for (const r of p) {
        expect(r.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
        expect(r.entropy).toBeCloseTo(r.expectedEntropy + r.mutualInformation, 5);
        expect(typeof r.ood).toBe('boolean');
      }
      // An image's answer depends on the image alone: the same twice, alone or in a batch
      // (rank-1 draws and MC dropout masks are fixed per model).
      expect((await model.predict(px, 3)).map((r) => r.probabilities)).toEqual(p.map((r) => r.probabilities));
      const alone = await model.predict(px.subarray(784, 2 * 784), 1);
      alone[0]!.probabilities.forEach((v, i) => expect(v).toBeCloseTo(p[1]!.probabilities[i]!, 5));
      const single = method === 'deterministic';
      // Only a single network without dropout has no epistemic part.
      if (single) expect(p.every((r) => r.mutualInformation === 0)).toBe(true);
      else expect(p.some((r) => r.mutualInformation > 0)).toBe(true);
      model.dispose();
    },
    120_000,
  );

  it('an ensemble is K independent networks: own kernels and BatchNorm per member, K× the parameters', () => {
    const config = resolveModelConfig(shape, { method: 'ensemble', hidden: 16 });
    expect(config.members).toBe(4);
    const model = buildModel(config, new Rng(2));
    const conv = model.params().find((p) => p.name === 'conv2/kernel')!.variable;
    expect(conv.shape).toEqual([4, 3, 3, 16, 32]);
    const [a, b] = tf.unstack(conv);
    expect(tf.max(tf.abs(tf.sub(a!, b!))).dataSync()[0]).toBeGreaterThan(0.01);
    expect(model.params().find((p) => p.name === 'bn1/gamma')!.variable.shape).toEqual([4, 16]);
    model.dispose();
    const det = parameterCount('deterministic');
    expect(parameterCount('ensemble')).toBe(4 * det);
    expect(parameterCount('mcdropout')).toBe(det);
    expect(parameterCount('rank1')).toBeLessThan(1.5 * det);
  });

  it('member k of an ensemble sees only its own rows', () => {
    const config = resolveModelConfig(shape, { method: 'ensemble', hidden: 16 });
    const model = buildModel(config, new Rng(5));
    const ctx = { training: false, rng: new Rng(1) };
    const x = tf.randomNormal([4 * 2, 28, 28, 1], 0, 1, 'float32', 9);
    const full = model.forward(x, ctx).logits.arraySync();
    // Change member 3's rows only: members 0–2 must give the same logits.
    const y = tf.concat([tf.slice(x, [0], [6]), tf.zeros([2, 28, 28, 1])]);
    const changed = model.forward(y, ctx).logits.arraySync();
    expect(changed.slice(0, 6)).toEqual(full.slice(0, 6));
    expect(changed.slice(6)).not.toEqual(full.slice(6));
    model.dispose();
  });

  it('MC dropout keeps dropout on at prediction: two samples of one image differ', () => {
    const config = resolveModelConfig(shape, { method: 'mcdropout', hidden: 16 });
    expect(config).toMatchObject({ members: 1, dropoutRate: 0.1 });
    const model = buildModel(config, new Rng(5));
    const x = tf.randomNormal([1, 28, 28, 1], 0, 1, 'float32', 9);
    const rng = new Rng(1);
    const a = model.forward(x, { training: false, rng }).logits.arraySync();
    const b = model.forward(x, { training: false, rng }).logits.arraySync();
    expect(a).not.toEqual(b);
    model.dispose();
  });
});
