/**
 * TF.js → ONNX layer conversion: small networks covering every converter, and the two real
 * backbones on real photos, run through onnxruntime-node against TF.js (max |difference| < 1e-4).
 */
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src-main/engine/backends/index.js';
import { folderHandler, readModelFolder } from '../../../src-main/engine/backbones/model-files.js';
import { toInput } from '../../../src-main/engine/backbones/embedder.js';
import { BATCH, OnnxGraph, serializeModel } from '../../../src-main/engine/onnx/graph.js';
import {
  convertLayersModel,
  fromNhwc,
  toPlain,
  UnsupportedLayerError,
} from '../../../src-main/engine/onnx/tfjs-layers.js';
import { cifarPhotos } from '../backbones/photos.js';
import { V1, V2 } from '../backbones/server.js';

beforeAll(async () => {
  await initBackend('wasm');
});

/** Runs `net` on `x` (NHWC) in TF.js and, converted, in ONNX Runtime; returns the max difference. */
async function compare(net: tf.LayersModel, x: tf.Tensor): Promise<{ diff: number; scale: number }> {
  const g = new OnnxGraph('t');
  const input = g.input('x', [BATCH, ...x.shape.slice(1)]);
  const [y] = convertLayersModel(g, net, [
    x.rank === 4 ? fromNhwc(g, input) : { name: input, rank: x.rank, nchw: false },
  ]);
  const out = toPlain(g, y!);
  g.output(
    out,
    (net.outputs[0]!.shape as (number | null)[]).map((d) => d ?? BATCH),
  );
  const session = await ort.InferenceSession.create(serializeModel(g));
  try {
    const res = await session.run({
      x: new ort.Tensor('float32', (await x.data()) as Float32Array, x.shape),
    });
    const got = res[out]!.data as Float32Array;
    const want = (await (net.predict(x) as tf.Tensor).data()) as Float32Array;
    expect(got.length).toBe(want.length);
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < want.length; i++) {
      diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
      scale = Math.max(scale, Math.abs(want[i]!));
    }
    return { diff, scale };
  } finally {
    await session.release();
  }
}

/** Random but fixed weights, so batch-norm statistics and biases are not trivial. */
function randomise(net: tf.LayersModel): void {
  let seed = 7;
  for (const layer of net.layers) {
    const ws = layer.getWeights().map((w) => {
      const isVar = /variance/.test(layer.weights[layer.getWeights().indexOf(w)]?.name ?? '');
      return tf.tidy(() =>
        isVar
          ? tf.randomUniform(w.shape, 0.5, 1.5, 'float32', seed++)
          : tf.randomNormal(w.shape, 0, 0.5, 'float32', seed++),
      );
    });
    layer.setWeights(ws);
  }
}

describe('TF.js layers → ONNX', () => {
  it('Conv2D (same/valid, strides, bias, activations), DepthwiseConv2D (multiplier 2), BatchNorm, ReLU6, ZeroPadding2D, Add', async () => {
    const input = tf.input({ shape: [15, 15, 3] });
    const pad = tf.layers
      .zeroPadding2d({
        padding: [
          [0, 1],
          [1, 0],
        ],
      })
      .apply(input) as tf.SymbolicTensor;
    const c1 = tf.layers
      .conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'valid', activation: 'relu' })
      .apply(pad) as tf.SymbolicTensor;
    const bn = tf.layers.batchNormalization({ epsilon: 1e-3 }).apply(c1) as tf.SymbolicTensor;
    const r6 = tf.layers.reLU({ maxValue: 6 }).apply(bn) as tf.SymbolicTensor;
    const dw = tf.layers
      .depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', strides: 2 })
      .apply(r6) as tf.SymbolicTensor;
    const pw = tf.layers
      .conv2d({ filters: 16, kernelSize: 1, padding: 'same', useBias: false })
      .apply(dw) as tf.SymbolicTensor;
    const act = tf.layers.activation({ activation: 'relu6' }).apply(pw) as tf.SymbolicTensor;
    const sum = tf.layers.add().apply([act, dw]) as tf.SymbolicTensor;
    const net = tf.model({ inputs: input, outputs: sum });
    randomise(net);
    const x = tf.randomUniform([3, 15, 15, 3], -1, 1, 'float32', 3);
    const { diff, scale } = await compare(net, x);
    expect(scale).toBeGreaterThan(0.1);
    expect(diff).toBeLessThan(1e-4);
    net.dispose();
  });

  it('GlobalAveragePooling2D, Reshape, Dropout, Flatten, Dense + softmax, and a nested Sequential', async () => {
    const inner = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, activation: 'tanh' }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
      ],
    });
    const input = tf.input({ shape: [8, 8, 3] });
    const feat = inner.apply(input) as tf.SymbolicTensor;
    const gap = tf.layers.globalAveragePooling2d({}).apply(feat) as tf.SymbolicTensor;
    const r = tf.layers.reshape({ targetShape: [1, 1, 4] }).apply(gap) as tf.SymbolicTensor;
    const d = tf.layers.dropout({ rate: 0.5 }).apply(r) as tf.SymbolicTensor;
    const conv = tf.layers.conv2d({ filters: 5, kernelSize: 1 }).apply(d) as tf.SymbolicTensor;
    const flat = tf.layers.flatten().apply(conv) as tf.SymbolicTensor;
    const dense = tf.layers.dense({ units: 3, activation: 'softmax' }).apply(flat) as tf.SymbolicTensor;
    const net = tf.model({ inputs: input, outputs: dense });
    randomise(net);
    randomise(inner);
    const { diff } = await compare(net, tf.randomUniform([2, 8, 8, 3], -1, 1, 'float32', 5));
    expect(diff).toBeLessThan(1e-5);
    net.dispose();
  });

  it('an unsupported layer is named', () => {
    const input = tf.input({ shape: [4, 4, 3] });
    const up = tf.layers.upSampling2d({ size: [2, 2], name: 'up' }).apply(input) as tf.SymbolicTensor;
    const net = tf.model({ inputs: input, outputs: up });
    const g = new OnnxGraph('t');
    const x = g.input('x', [BATCH, 4, 4, 3]);
    expect(() => convertLayersModel(g, net, [fromNhwc(g, x)])).toThrow(UnsupportedLayerError);
    expect(() => convertLayersModel(new OnnxGraph('u'), net, [{ name: 'x', rank: 4, nchw: true }])).toThrow(
      /layer up: UpSampling2D has no ONNX conversion/,
    );
  });

  it.each([
    ['mobilenet-v1-0.25', V1, 'global_average_pooling2d_1'],
    ['mobilenet-v2-0.35', V2, 'layers[0]'],
  ] as const)(
    '%s on real photos: ONNX Runtime features equal TF.js within 1e-4',
    async (_name, dir, emb) => {
      const model = await tf.loadLayersModel(folderHandler(await readModelFolder(dir)));
      try {
        const net =
          emb === 'layers[0]'
            ? (model.layers[0] as tf.LayersModel)
            : tf.model({ inputs: model.inputs, outputs: model.getLayer(emb).output as tf.SymbolicTensor });
        const photos = await cifarPhotos(6, 32);
        const x = toInput(photos, 6, [32, 32, 3], 224);
        const { diff, scale } = await compare(net, x);
        x.dispose();
        expect(scale).toBeGreaterThan(1);
        expect(diff).toBeLessThan(1e-4);
      } finally {
        model.dispose();
      }
    },
    120_000,
  );
});
