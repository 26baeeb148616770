import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src-main/engine/backends/index.js';
import { loadModel } from '../../src-main/engine/predict.js';
import { makeTrainStep, trainModel, type TrainRequest } from '../../src-main/engine/train.js';
import { buildModel } from '../../src-main/engine/models/index.js';
import { resolveModelConfig } from '../../src-main/engine/defaults.js';
import { createOptimizer } from '../../src-main/engine/optimizer.js';
import { Rng } from '../../src-main/engine/random.js';
import { ModelFormatError, readModelFolder } from '../../src-main/engine/model-format.js';
import type { TrainEvent } from '../../src-main/engine/types.js';
import { DISK_RESERVE, DiskSpaceError } from '../../src-main/data/disk-space.js';
import { loadGreySet, SHARED, split } from './helpers.js';

let data: Awaited<ReturnType<typeof loadGreySet>>;
const prep = {
  size: 28,
  channels: 1 as const,
  fit: 'cover' as const,
  background: { r: 255, g: 255, b: 255 },
};

beforeAll(async () => {
  await initBackend('wasm');
  data = await loadGreySet(nodePath.join(SHARED, 'data/mnist'), 20, ['0', '1', '2', '3']);
});

const made: string[] = [];
const tmp = () => {
  const dir = mkdtempSync(nodePath.join(tmpdir(), 'rank1-train-'));
  made.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function request(outDir: string, over: Partial<TrainRequest> = {}): TrainRequest {
  const { train, val } = split(data.set, 5);
  return {
    train,
    val,
    classes: data.classes,
    preprocessing: prep,
    id: 'm',
    outDir,
    model: { arch: 'mlp', hidden: 16 },
    config: { epochs: 2, batchSize: 16, seed: 7 },
    ...over,
  };
}

describe('trainModel', () => {
  it('learns real digits, reports progress and saves a loadable model with an OOD threshold', async () => {
    const events: TrainEvent[] = [];
    const out = nodePath.join(tmp(), 'model');
    const meta = await trainModel(
      request(out, { config: { epochs: 6, batchSize: 8, seed: 1 }, onEvent: (e) => events.push(e) }),
    );
    expect(events[0]!.type).toBe('start');
    expect(events.filter((e) => e.type === 'epoch')).toHaveLength(6);
    expect(events.filter((e) => e.type === 'checkpoint')).toHaveLength(5);
    expect(events.at(-1)!.type).toBe('done');
    const steps = events.filter((e) => e.type === 'step');
    expect(steps.length).toBe(6 * Math.floor(64 / 8));
    expect(meta.metrics!.val!.accuracy).toBeGreaterThan(0.6); // 4 classes: chance is 0.25
    expect(meta.ood!.threshold).toBeGreaterThan(0);
    expect(meta.history).toHaveLength(6);
    const model = await loadModel(out);
    const px = await data.set.read([0, 1]);
    const p = await model.predict(px, 2);
    expect(p[0]!.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(p[0]!.entropy).toBeCloseTo(p[0]!.expectedEntropy + p[0]!.mutualInformation, 6);
    model.dispose();
  });

  it('calibrates on the validation split unless `calibrate: false` (T = 1), same weights either way', async () => {
    const on = await trainModel(request(nodePath.join(tmp(), 'cal')));
    const off = await trainModel(
      request(nodePath.join(tmp(), 'nocal'), {
        config: { epochs: 2, batchSize: 16, seed: 7, calibrate: false },
      }),
    );
    expect(on.train.calibrate).toBe(true);
    expect(on.calibration!.temperature).not.toBe(1);
    expect(off.calibration).toEqual({ temperature: 1 });
    expect(off.weights.sha256).toBe(on.weights.sha256);
    // the reported validation NLL is the calibrated one: never worse than at T = 1
    const last = on.history.at(-1)!;
    expect(on.metrics!.val!.nll!).toBeLessThanOrEqual(off.metrics!.val!.nll! + 1e-9);
    expect(off.metrics!.val!.nll).toBeCloseTo(last.valNll, 6);
  });

  it('fits the OOD threshold on the held-out split only and records which (split, count)', async () => {
    const req = request(nodePath.join(tmp(), 'ood-val'));
    const meta = await trainModel(req);
    expect(meta.ood).toMatchObject({ split: 'val', count: req.val.count });
    expect(meta.warning).toBeUndefined();
  });

  it('with no held-out images stores no OOD threshold, says so, and every prediction carries it', async () => {
    const { train } = split(data.set, 5);
    const empty = { ...train, count: 0, labels: new Int32Array(0), files: [] };
    const out = nodePath.join(tmp(), 'ood-none');
    // before: the threshold was fitted on the training images themselves (kNN matched each with itself)
    const meta = await trainModel(request(out, { val: empty }));
    expect(meta.ood).toBeUndefined();
    expect(meta.warning).toMatch(/no OOD threshold/);
    expect((await readModelFolder(out)).meta.warning).toBe(meta.warning);
    const model = await loadModel(out);
    const p = await model.predict(await data.set.read([0, 1]), 2);
    expect(p.map((r) => r.warning)).toEqual([meta.warning, meta.warning]);
    expect(p.every((r) => r.ood === false)).toBe(true);
    model.dispose();
  });

  it('the same seed on the same backend gives the same run', async () => {
    const a = await trainModel(request(nodePath.join(tmp(), 'a')));
    const b = await trainModel(request(nodePath.join(tmp(), 'b')));
    expect(b.weights.sha256).toBe(a.weights.sha256);
    expect(b.history.map((h) => h.trainLoss)).toEqual(a.history.map((h) => h.trainLoss));
    const c = await trainModel(
      request(nodePath.join(tmp(), 'c'), { config: { epochs: 2, batchSize: 16, seed: 8 } }),
    );
    expect(c.weights.sha256).not.toBe(a.weights.sha256);
  });

  it('a cancelled run resumes from its checkpoint to the same model as an uninterrupted one', async () => {
    const full = await trainModel(
      request(nodePath.join(tmp(), 'full'), { config: { epochs: 3, batchSize: 16, seed: 3 } }),
    );
    const out = nodePath.join(tmp(), 'resumed');
    const ac = new AbortController();
    await expect(
      trainModel(
        request(out, {
          config: { epochs: 3, batchSize: 16, seed: 3 },
          signal: ac.signal,
          onEvent: (e) => e.type === 'checkpoint' && e.epoch === 1 && ac.abort(),
        }),
      ),
    ).rejects.toThrow(/Cancelled/);
    expect((await readModelFolder(out)).meta.epoch).toBe(1);
    const resumed = await trainModel(request(out, { resume: true }));
    expect(resumed.epoch).toBe(3);
    expect(resumed.weights.sha256).toBe(full.weights.sha256);
  });

  it('resuming a checkpoint whose model.json asks for a far wider layer than weights.bin holds is refused before the network is built', async () => {
    const out = nodePath.join(tmp(), 'tampered');
    const ac = new AbortController();
    await expect(
      trainModel(
        request(out, {
          signal: ac.signal,
          onEvent: (e) => e.type === 'checkpoint' && e.epoch === 1 && ac.abort(),
        }),
      ),
    ).rejects.toThrow(/Cancelled/);
    const file = nodePath.join(out, 'model.json');
    const json = JSON.parse(readFileSync(file, 'utf8'));
    json.config.hidden = 65_536; // 784 × 65,536 weights in the first layer alone
    writeFileSync(file, JSON.stringify(json));
    const err = await trainModel(request(out, { resume: true })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelFormatError);
    expect((err as ModelFormatError).detail).toMatch(
      /^model\.json: config\.hidden 65536 makes a layer of 51380224 weights/,
    );
  });

  it('refuses at the start, naming the model and both sizes, when its checkpoints would leave the disk less than the reserve; nothing is written', async () => {
    const parent = tmp();
    const out = nodePath.join(parent, 'models', 'full');
    const events: TrainEvent[] = [];
    const err = await trainModel(
      request(out, { name: 'digits', freeSpace: async () => DISK_RESERVE, onEvent: (e) => events.push(e) }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiskSpaceError);
    expect((err as Error).message).toMatch(
      /^digits: training needs \d+ kB and the disk of the models folder has 256\.0 MB free; 256\.0 MB must stay free \(nothing was written\)$/,
    );
    expect(events).toEqual([]);
    expect(readdirSync(parent)).toEqual([]);
  });

  it('cancel before the first checkpoint leaves no model folder and no temporary files', async () => {
    const dir = tmp();
    const ac = new AbortController();
    await expect(
      trainModel(
        request(nodePath.join(dir, 'x'), {
          signal: ac.signal,
          onEvent: (e) => e.type === 'step' && e.step === 2 && ac.abort(),
        }),
      ),
    ).rejects.toThrow(/Cancelled/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('save → load gives identical predictions, twice', async () => {
    const out = nodePath.join(tmp(), 'm');
    await trainModel(request(out, { model: { arch: 'cnn' }, config: { epochs: 1, batchSize: 16, seed: 2 } }));
    const px = await data.set.read([3, 30, 60]);
    const m1 = await loadModel(out);
    const m2 = await loadModel(out);
    const [p1, p2] = [await m1.predict(px, 3), await m2.predict(px, 3)];
    expect(p2).toEqual(p1);
    m1.dispose();
    m2.dispose();
    expect(existsSync(nodePath.join(out, 'weights.bin'))).toBe(true);
  });
});

describe('training step', () => {
  it('gradients match finite differences (rank-1, same samples each evaluation)', async () => {
    await tf.setBackend('cpu');
    try {
      const config = resolveModelConfig(
        { size: 4, channels: 1, count: 100, numClasses: 3 },
        { arch: 'mlp', hidden: 5, members: 2 },
      );
      const model = buildModel(config, new Rng(1));
      const x = tf.randomNormal([4, 4, 4, 1], 0, 1, 'float32', 3);
      const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 0, 1, 2, 0], 'int32'), 3);
      const loss = () =>
        tf.tidy(() => {
          const rng = new Rng(42); // replay identical samples
          const { logits } = model.forward(tf.tile(x, [2, 1, 1, 1]), { training: true, rng });
          const nll = tf.neg(tf.mean(tf.sum(tf.mul(y, tf.logSoftmax(logits)), 1)));
          return tf.add(nll, tf.div(model.klDivergence(rng), 100)) as tf.Scalar;
        });
      const params = model.params();
      const { grads } = tf.variableGrads(
        loss,
        params.map((p) => p.variable),
      );
      for (const p of params.filter((q) => /kernel|loc|rho|bias/.test(q.name))) {
        const v = p.variable;
        const g = grads[v.name]!.dataSync();
        const base = v.dataSync().slice();
        for (const i of [0, base.length - 1]) {
          const eps = 1e-2;
          const at = (d: number) => {
            const w = base.slice();
            w[i]! += d;
            v.assign(tf.tensor(w, v.shape));
            return loss().dataSync()[0]!;
          };
          const fd = (at(eps) - at(-eps)) / (2 * eps);
          v.assign(tf.tensor(base, v.shape));
          expect(Math.abs(fd - g[i]!)).toBeLessThan(2e-2 * Math.max(1, Math.abs(fd)));
        }
      }
      model.dispose();
    } finally {
      await initBackend('wasm');
    }
  });

  it('1,000 steps leave the live tensor count and bytes unchanged (no leaks)', async () => {
    const config = resolveModelConfig(
      { size: 8, channels: 1, count: 100, numClasses: 3 },
      { arch: 'mlp', hidden: 8 },
    );
    const model = buildModel(config, new Rng(1));
    const opt = createOptimizer('sgd');
    const step = makeTrainStep(model, opt, { numClasses: 3, l2: 1e-4, trainSize: 100 });
    const x = tf.randomNormal([4, 8, 8, 1]) as tf.Tensor4D;
    const labels = Int32Array.from([0, 1, 2, 0]);
    const rng = new Rng(1);
    for (let i = 0; i < 10; i++) await step(x, labels, 0.01, 1, rng);
    const before = tf.memory();
    for (let i = 0; i < 1000; i++) await step(x, labels, 0.01, 1, rng);
    const after = tf.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
    x.dispose();
    model.dispose();
    opt.dispose();
  });
});
