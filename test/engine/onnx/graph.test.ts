import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import {
  BATCH,
  float,
  OnnxGraph,
  OPSET,
  parseModel,
  readMetadata,
  serializeModel,
} from '../../../src-main/engine/onnx/index.js';

async function run(
  bytes: Uint8Array,
  feeds: Record<string, ort.Tensor>,
): Promise<Record<string, ort.Tensor>> {
  const s = await ort.InferenceSession.create(bytes);
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

const seq = (n: number, f = (i: number) => Math.sin(i * 0.37)) =>
  Float32Array.from({ length: n }, (_, i) => f(i));

describe('OnnxGraph', () => {
  it('Gemm + Softmax: dynamic batch, float attributes, metadata round-trip', async () => {
    const g = new OnnxGraph('gemm');
    const x = g.input('x', [BATCH, 3]);
    const w = g.initializer('w', seq(6), [3, 2]);
    const b = g.initializer('b', Float32Array.from([0.5, -0.25]), [2]);
    const y = g.op('Gemm', [x, w, b], { alpha: float(2), beta: float(1) });
    const p = g.op('Softmax', [y], { axis: -1 });
    g.output(p, [BATCH, 2]);
    const bytes = serializeModel(g, { metadata: { classes: '["a","b"]' } });
    expect(readMetadata(bytes)).toEqual({ classes: '["a","b"]' });
    expect(Number(parseModel(bytes).opsetImport[0]!.version)).toBe(OPSET);
    for (const n of [1, 3]) {
      const xs = seq(3 * n, (i) => i - 1);
      const out = (await run(bytes, { x: new ort.Tensor('float32', xs, [n, 3]) }))[p]!;
      expect(out.dims).toEqual([n, 2]);
      const wv = seq(6);
      for (let r = 0; r < n; r++) {
        const z = [0, 1].map(
          (j) => 2 * [0, 1, 2].reduce((a, k) => a + xs[r * 3 + k]! * wv[k * 2 + j]!, 0) + [0.5, -0.25][j]!,
        );
        const e = z.map((v) => Math.exp(v - Math.max(...z)));
        const sum = e[0]! + e[1]!;
        expect((out.data as Float32Array)[r * 2]).toBeCloseTo(e[0]! / sum, 5);
      }
    }
  });

  it('Conv (NCHW, pads, group) + Add + ReduceMean + MatMul + Reshape with an int64 shape', async () => {
    const g = new OnnxGraph('conv');
    const x = g.input('x', [BATCH, 2, 4, 4]);
    const k = g.initializer('k', seq(2 * 1 * 3 * 3), [2, 1, 3, 3]);
    const c = g.op('Conv', [x, k], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [1, 1], group: 2 });
    const added = g.op('Add', [c, g.initializer('bias', Float32Array.from([1, -1]), [1, 2, 1, 1])]);
    const pooled = g.op('ReduceMean', [added], { axes: [2, 3], keepdims: 0 });
    const m = g.op('MatMul', [pooled, g.initializer('m', Float32Array.from([1, 0, 0, 1]), [2, 2])]);
    const r = g.op('Reshape', [m, g.int64s('shape', [-1, 2, 1])]);
    g.output(r, [BATCH, 2, 1]);
    const bytes = serializeModel(g);
    const xs = seq(2 * 2 * 16, (i) => (i % 7) / 7);
    const out = (await run(bytes, { x: new ort.Tensor('float32', xs, [2, 2, 4, 4]) }))[r]!;
    expect(out.dims).toEqual([2, 2, 1]);
    // Reference: depthwise 3×3 with zero padding, then the mean over 4×4 plus the bias.
    const kv = seq(18);
    for (let n = 0; n < 2; n++)
      for (let ch = 0; ch < 2; ch++) {
        let sum = 0;
        for (let i = 0; i < 4; i++)
          for (let j = 0; j < 4; j++)
            for (let di = -1; di <= 1; di++)
              for (let dj = -1; dj <= 1; dj++) {
                const a = i + di;
                const b = j + dj;
                if (a < 0 || a > 3 || b < 0 || b > 3) continue;
                sum += xs[((n * 2 + ch) * 4 + a) * 4 + b]! * kv[ch * 9 + (di + 1) * 3 + (dj + 1)]!;
              }
        expect((out.data as Float32Array)[n * 2 + ch]).toBeCloseTo(sum / 16 + (ch === 0 ? 1 : -1), 5);
      }
  });

  it('refuses unknown inputs, reused names and wrong initializer sizes with one clear line', () => {
    const g = new OnnxGraph('bad');
    const x = g.input('x', [BATCH, 2]);
    expect(() => g.op('Relu', ['nope'])).toThrow(/Relu input "nope" is not a value/);
    expect(() => g.input('x', [1])).toThrow(/"x" is used twice/);
    expect(() => g.initializer('w', new Float32Array(3), [2, 2])).toThrow(/3 values for shape \[2, 2\]/);
    expect(() => serializeModel(g)).toThrow(/no outputs/);
    g.output(g.op('Relu', [x]), [BATCH, 2]);
    expect(serializeModel(g).length).toBeGreaterThan(0);
  });
});
