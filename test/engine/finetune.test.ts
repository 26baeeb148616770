/**
 * Fine-tuning the backbone's last blocks with rank-1 factors (issue 16 item 6): the blocks read
 * from both catalog backbones, the cut + rebuilt blocks equal to the original network (factors at
 * 1), and a model trained with N = 1 on real CIFAR-10 photos that predicts, evaluates and resumes.
 */
import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importDataset, type ImportedDataset } from '../../src-main/data/index.js';
import { initBackend } from '../../src-main/engine/backends/index.js';
import { FineTuneError, loadBackbone, prepareTransfer } from '../../src-main/engine/backbones/index.js';
import { readTail } from '../../src-main/engine/backbones/tail.js';
import { resolveModelConfig } from '../../src-main/engine/defaults.js';
import { CancelledError } from '../../src-main/engine/evaluate.js';
import { tileMembers } from '../../src-main/engine/inference.js';
import type { FixedFactors } from '../../src-main/engine/layers/rank1.js';
import { buildModel } from '../../src-main/engine/models/index.js';
import { assignPretrained, PRETRAINED_LR_SCALE } from '../../src-main/engine/models/tail.js';
import { loadModel } from '../../src-main/engine/predict.js';
import { Rng } from '../../src-main/engine/random.js';
import { trainModel } from '../../src-main/engine/train.js';
import type { Method } from '../../src-main/engine/types.js';
import { cifarPhotos } from './backbones/photos.js';
import { SHARED } from '../shared-data.js';

const CLASSES = ['airplane', 'automobile', 'frog'];
let tmp: string;
const savedHome = process.env.RANK1_HOME;

beforeAll(async () => {
  await initBackend('wasm');
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-finetune-'));
  process.env.RANK1_HOME = path.join(tmp, 'home');
});

afterAll(async () => {
  if (savedHome === undefined) delete process.env.RANK1_HOME;
  else process.env.RANK1_HOME = savedHome;
  await fs.rm(tmp, { recursive: true, force: true });
});

/** A catalog backbone: v1 ships with the app; v2 is the reference copy, which is that backbone. */
const ref = (name: string) =>
  name === 'mobilenet-v2-0.35' ? { name: '', path: `${SHARED}/models/mobilenet_v2_0.35_224_tm` } : { name };

const ops = (blocks: { op: string }[][]) => blocks.map((b) => b.map((l) => l.op).join(','));

describe('the last blocks of a backbone (backbones/tail.ts)', () => {
  it('MobileNet v1 0.25: a block is depthwise conv+BN+relu6, pointwise conv+BN+relu6', async () => {
    const bb = await loadBackbone({ name: 'mobilenet-v1-0.25' }, { engine: 'tfjs' });
    try {
      const t = readTail(bb.net!, 2, 'v1');
      expect(t.config.cut).toBe('conv_pw_11_relu');
      expect(t.config.inputShape).toEqual([14, 14, 128]);
      expect(ops(t.config.layers)).toEqual([
        'depthwise,bn,relu6,conv,bn,relu6',
        'depthwise,bn,relu6,conv,bn,relu6',
      ]);
      expect(t.config.layers[0]![0]).toMatchObject({ name: 'conv_dw_12', strides: 2, kernelSize: 3 });
      expect(t.weights.map((w) => w.name)).toContain('conv_pw_13_bn/moving_variance');
    } finally {
      bb.dispose();
    }
  });

  it('MobileNetV2 0.35: inverted residual blocks with their Add; Conv_1 counts as a block', async () => {
    const bb = await loadBackbone(ref('mobilenet-v2-0.35'), { engine: 'tfjs' });
    try {
      const t = readTail(bb.net!, 3, 'v2');
      expect(t.config.cut).toBe('block_14_add');
      expect(t.config.inputShape).toEqual([7, 7, 56]);
      expect(ops(t.config.layers)).toEqual([
        'conv,bn,relu6,depthwise,bn,relu6,conv,bn,add',
        'conv,bn,relu6,depthwise,bn,relu6,conv,bn',
        'conv,bn,relu6',
      ]);
    } finally {
      bb.dispose();
    }
  });

  it('an imported network not made of MobileNet blocks is refused with one line naming the layer', () => {
    const input = tf.input({ shape: [8, 8, 3] });
    const feat = tf.layers
      .conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'feat' })
      .apply(input) as tf.SymbolicTensor;
    const net = tf.model({
      inputs: input,
      outputs: tf.layers.globalAveragePooling2d({}).apply(feat) as tf.SymbolicTensor,
    });
    try {
      expect(() => readTail(net, 1, 'backbone "imported-0123456789ab"')).toThrow(
        /^backbone "imported-0123456789ab": fine-tuning reads MobileNet v1\/v2 blocks .*layer "feat" \(Conv2D\) is not one$/,
      );
    } finally {
      net.dispose();
    }
  });

  it('refuses block counts outside 1..4 with one line', async () => {
    const bb = await loadBackbone({ name: 'mobilenet-v1-0.25' }, { engine: 'tfjs' });
    try {
      expect(() => readTail(bb.net!, 0, 'v1')).toThrow(FineTuneError);
      expect(() => readTail(bb.net!, 5, 'v1')).toThrow(/1\.\.4/);
    } finally {
      bb.dispose();
    }
  });
});

/**
 * The fine-tune model's pooled block output for `px` with every factor at 1, beside the frozen
 * backbone's embedding of the same photos.
 */
async function tailVsFrozen(name: string, blocks: number, method: Method) {
  const n = 4;
  const px = await cifarPhotos(n);
  const shape = [32, 32, 3] as const;
  const frozen = await loadBackbone(ref(name), { engine: 'tfjs' });
  const cut = await loadBackbone(ref(name), { engine: 'tfjs', fineTune: blocks });
  try {
    const want = await frozen.embed(px, n, shape);
    const maps = await cut.embed(px, n, shape);
    const config = resolveModelConfig(
      { size: 32, channels: 3, count: n, numClasses: 3, gpu: false },
      { arch: 'head', method, embeddingSize: cut.embeddingSize, fineTune: cut.tail!.config },
    );
    const model = buildModel(config, new Rng(3));
    try {
      assignPretrained(model, cut.tail!.weights);
      const K = method === 'deterministic' ? 1 : config.members;
      const ones: FixedFactors = new Map(
        model
          .rank1Layers()
          .map((l) => [
            l.name,
            { alpha: tf.ones([K, l.inputDim]) as tf.Tensor2D, gamma: tf.ones([K, l.units]) as tf.Tensor2D },
          ]),
      );
      const x = tf.tensor2d(maps, [n, cut.embeddingSize]);
      const { features } = model.forward(tileMembers(x, K), {
        training: false,
        rng: new Rng(1),
        factors: ones,
      });
      const D = frozen.embeddingSize;
      const all = (await features.data()) as Float32Array;
      const width = features.shape[1];
      tf.dispose([x, features, ...[...ones.values()].flatMap((f) => [f.alpha, f.gamma])]);
      let diff = 0;
      for (let k = 0; k < K; k++)
        for (let i = 0; i < n; i++)
          for (let d = 0; d < D; d++)
            diff = Math.max(diff, Math.abs(all[(k * n + i) * width + (width - D) + d]! - want[i * D + d]!));
      return { diff, scale: Math.max(...want.map(Math.abs)) };
    } finally {
      model.dispose();
    }
  } finally {
    frozen.dispose();
    cut.dispose();
  }
}

describe('the cut prefix on ONNX Runtime', () => {
  it('MobileNetV2 cut before Conv_1 (a linear bottleneck map) runs on ONNX Runtime, as TF.js computes it', async () => {
    const px = await cifarPhotos(4);
    const reasons: string[] = [];
    const onnx = await loadBackbone(ref('mobilenet-v2-0.35'), {
      engine: 'onnx',
      fineTune: 1,
      onFallback: (r) => reasons.push(r),
    });
    const tfjs = await loadBackbone(ref('mobilenet-v2-0.35'), { engine: 'tfjs', fineTune: 1 });
    try {
      expect(onnx.tail!.config.cut).toBe('block_16_project_BN');
      const got = await onnx.embed(px, 4, [32, 32, 3]);
      const want = await tfjs.embed(px, 4, [32, 32, 3]);
      expect(reasons).toEqual([]);
      expect(onnx.backend).toBe('onnxruntime');
      const scale = Math.max(...want.map(Math.abs));
      expect(Math.max(...got.map((v, i) => Math.abs(v - want[i]!)))).toBeLessThan(1e-4 * scale);
    } finally {
      onnx.dispose();
      tfjs.dispose();
    }
  });
});

describe('the cut + rebuilt blocks equal the original network (factors all 1)', () => {
  it('MobileNet v1 0.25, 2 blocks (a stride-2 depthwise conv), rank-1 K = 4', async () => {
    const { diff, scale } = await tailVsFrozen('mobilenet-v1-0.25', 2, 'rank1');
    expect(scale).toBeGreaterThan(0.1);
    expect(diff).toBeLessThan(1e-4);
  });

  it('MobileNetV2 0.35, 3 blocks (a residual Add and Conv_1), deterministic', async () => {
    const { diff, scale } = await tailVsFrozen('mobilenet-v2-0.35', 3, 'deterministic');
    expect(scale).toBeGreaterThan(0.1);
    expect(diff).toBeLessThan(1e-4);
  });
});

describe('training with --fine-tune 1 on cifar10/train photos', () => {
  let ds: ImportedDataset;
  beforeAll(async () => {
    const root = path.join(tmp, 'cifar3');
    for (const c of CLASSES) {
      await fs.mkdir(path.join(root, c), { recursive: true });
      for (const f of (await fs.readdir(`${SHARED}/data/cifar10/train/${c}`)).sort().slice(0, 12))
        await fs.copyFile(`${SHARED}/data/cifar10/train/${c}/${f}`, path.join(root, c, f));
    }
    ds = await importDataset(root, { imageSize: 32, valFraction: 0.25 });
  });

  it('trains the last block from the pretrained weights, predicts, evaluates and resumes', async () => {
    const backbone = await prepareTransfer('mobilenet-v1-0.25', ds, { fineTune: 1 });
    expect(backbone!.tail!.config.cut).toBe('conv_pw_12_relu');
    expect(backbone!.train.dim).toBe(7 * 7 * 256);
    // A second call reads the cut's maps from the feature cache (keyed by backbone and cut).
    const again = await prepareTransfer('mobilenet-v1-0.25', ds, { fineTune: 1 });
    expect((again!.train as unknown as { cached: number }).cached).toBe(ds.splits.train.count);

    const request = (outDir: string, extra: object = {}) => ({
      train: ds.splits.train,
      val: ds.splits.val,
      classes: ds.classes,
      preprocessing: ds.preprocessing,
      id: 'ft',
      outDir,
      backbone,
      config: { epochs: 2, seed: 5, batchSize: 9 },
      ...extra,
    });
    const dir = path.join(tmp, 'ft');
    const ac = new AbortController();
    await expect(
      trainModel(
        request(dir, {
          signal: ac.signal,
          onEvent: (e: { type: string }) => e.type === 'checkpoint' && ac.abort(),
        }),
      ),
    ).rejects.toBeInstanceOf(CancelledError);
    const meta = await trainModel(request(dir, { resume: true }));
    expect(meta.epoch).toBe(2);
    expect(meta.config.fineTune).toMatchObject({ blocks: 1, cut: 'conv_pw_12_relu' });

    const model = await loadModel(dir);
    try {
      const px = await cifarPhotos(3);
      const preds = await model.predict(px, 3);
      expect(preds).toHaveLength(3);
      for (const p of preds) {
        expect(p.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
        expect(Number.isFinite(p.scores.mahalanobis)).toBe(true);
      }
      const report = await model.evaluate(ds.splits.val);
      expect(report.metrics.accuracy).toBeGreaterThanOrEqual(0);
      expect(report.items).toHaveLength(ds.splits.val.count);
    } finally {
      model.dispose();
    }
  });

  it('the pretrained kernels learn at a tenth of the rate; their factors at the full rate', async () => {
    const backbone = await prepareTransfer('mobilenet-v1-0.25', ds, { fineTune: 1 });
    const config = resolveModelConfig(
      { size: 32, channels: 3, count: 27, numClasses: 3, gpu: false },
      { arch: 'head', embeddingSize: backbone!.embeddingSize, fineTune: backbone!.tail!.config },
    );
    const model = buildModel(config, new Rng(1));
    try {
      const scales = new Map(model.params().map((p) => [p.name.replace(/__\d+$/, ''), p.lrScale ?? 1]));
      expect(scales.get('tail/conv_dw_13/kernel')).toBe(PRETRAINED_LR_SCALE);
      expect(scales.get('tail/conv_pw_13_bn/gamma')).toBe(PRETRAINED_LR_SCALE);
      expect(scales.get('tail/conv_pw_13/alpha/loc')).toBe(1);
      expect(scales.get('dense1/kernel')).toBe(1);
    } finally {
      model.dispose();
    }
  });
});
