/**
 * The broadcasting binary ops and Tile of wasm-memory-bound.ts against the cpu backend (oracle): one
 * IEEE operation per element, so the results must be bit-identical; unsupported shapes and dtypes go
 * to the original kernels.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import {
  broadcastPlan,
  reducePlan,
  registerWasmMemoryBound,
  tileInto,
  wasmMemoryBoundStatus,
} from '../../../src-main/engine/backends/wasm-memory-bound.js';
import { data as seeded, on, wasmWithKernels } from './oracle.js';

// Values in (0.25, 1.25): no division by zero.
const data = (shape: number[], seed: number) => seeded(shape, seed, 0.25);

const ops = {
  add: tf.add,
  sub: tf.sub,
  mul: tf.mul,
  div: tf.div,
} as const;

function binary(
  op: keyof typeof ops,
  aShape: number[],
  bShape: number[],
  dtype: 'float32' | 'int32' = 'float32',
) {
  return tf.tidy(() => {
    const cast = (x: Float32Array) => (dtype === 'int32' ? Int32Array.from(x, (v) => Math.round(v * 8)) : x);
    const a = tf.tensor(cast(data(aShape, 1)), aShape, dtype);
    const b = tf.tensor(cast(data(bShape, 2)), bShape, dtype);
    const y = ops[op](a, b);
    return { shape: y.shape, values: Array.from(y.dataSync()) };
  });
}

beforeAll(() => wasmWithKernels(registerWasmMemoryBound)); // registered twice: idempotent

describe('broadcastPlan', () => {
  it('views the full operand as [P, Q, R] and the broadcast one as [P, 1, R]', () => {
    expect(broadcastPlan([64, 32, 32, 16], [64, 1, 1, 16])).toEqual({ fullIsA: true, p: 64, q: 1024, r: 16 });
    expect(broadcastPlan([64, 32, 32, 16], [16])).toEqual({ fullIsA: true, p: 1, q: 65536, r: 16 });
    expect(broadcastPlan([1, 1, 1, 16], [8, 4, 4, 16])).toEqual({ fullIsA: false, p: 1, q: 128, r: 16 });
    expect(broadcastPlan([], [3, 5])).toEqual({ fullIsA: false, p: 1, q: 15, r: 1 });
    expect(broadcastPlan([8, 4, 4, 2], [8, 1, 1, 1])).toEqual({ fullIsA: true, p: 8, q: 32, r: 1 });
    expect(broadcastPlan([8, 1, 4, 2], [8, 1, 1, 2])).toEqual({ fullIsA: true, p: 8, q: 4, r: 2 });
  });

  it('declines same shapes, two-sided broadcasts and split broadcast dimensions', () => {
    expect(broadcastPlan([4, 5], [4, 5])).toBeNull();
    expect(broadcastPlan([4, 1, 8], [1, 5, 8])).toBeNull();
    expect(broadcastPlan([4, 5, 6, 8], [4, 1, 6, 1])).toBeNull();
    expect(broadcastPlan([4, 5], [3])).toBeNull(); // not broadcastable
  });
});

describe('wasm broadcasting binary ops', () => {
  const shapes: [number[], number[]][] = [
    [
      [4, 5, 6, 8],
      [4, 1, 1, 8],
    ], // rank-1 factors
    [[4, 5, 6, 8], [8]], // BatchNorm vectors
    [[4, 5, 6, 8], []], // scalar
    [
      [4, 5, 6, 3],
      [4, 1, 1, 3],
    ], // R not a multiple of 4 (RGB)
    [
      [4, 5, 6, 8],
      [4, 1, 1, 1],
    ], // per row
    [[7, 3], []], // Q not a multiple of 4
    [
      [2, 3, 5],
      [2, 1, 5],
    ],
  ];
  for (const op of Object.keys(ops) as (keyof typeof ops)[]) {
    for (const [full, small] of shapes) {
      for (const [a, b] of [
        [full, small],
        [small, full],
      ]) {
        it(`${op} ${JSON.stringify(a)} ${JSON.stringify(b)} is bit-identical to cpu`, async () => {
          const ref = await on('cpu', () => binary(op, a, b));
          const before = wasmMemoryBoundStatus().calls;
          const got = await on('wasm', () => binary(op, a, b));
          expect(wasmMemoryBoundStatus().calls).toBe(before + 1);
          expect(got.shape).toEqual(ref.shape);
          expect(got.values).toEqual(ref.values);
        });
      }
    }
  }

  const declined: [keyof typeof ops, number[], number[], 'float32' | 'int32'][] = [
    ['add', [4, 5], [4, 5], 'float32'],
    ['mul', [4, 1, 8], [1, 5, 8], 'float32'],
    ['sub', [4, 5, 6, 8], [4, 1, 6, 1], 'float32'],
    ['add', [4, 5, 6, 8], [8], 'int32'],
  ];
  for (const [op, a, b, dtype] of declined) {
    it(`${op} ${JSON.stringify(a)} ${JSON.stringify(b)} ${dtype} goes to the original kernel`, async () => {
      const ref = await on('cpu', () => binary(op, a, b, dtype));
      const before = wasmMemoryBoundStatus();
      const got = await on('wasm', () => binary(op, a, b, dtype));
      const after = wasmMemoryBoundStatus();
      expect(after.calls).toBe(before.calls);
      expect(after.fallbacks).toBe(before.fallbacks + 1);
      expect(got).toEqual(ref);
    });
  }
});

describe('wasm Tile', () => {
  const cases: [number[], number[], 'float32' | 'int32' | 'bool'][] = [
    [[16, 4, 4, 3], [4, 1, 1, 1], 'float32'], // tileMembers
    [[2, 3], [2, 3], 'float32'],
    [[3, 1, 2], [1, 4, 1], 'int32'],
    [[3, 2], [1, 5], 'bool'],
    [[5], [1], 'float32'],
    [[2, 2], [0, 3], 'float32'],
  ];
  for (const [shape, reps, dtype] of cases) {
    it(`${JSON.stringify(shape)} × ${JSON.stringify(reps)} ${dtype} matches cpu`, async () => {
      const run = () =>
        tf.tidy(() => {
          const v = data(shape, 3);
          const x =
            dtype === 'bool'
              ? tf.tensor(
                  Uint8Array.from(v, (e) => (e > 0.75 ? 1 : 0)),
                  shape,
                  'bool',
                )
              : tf.tensor(
                  dtype === 'int32' ? Int32Array.from(v, (e) => Math.round(e * 100)) : v,
                  shape,
                  dtype,
                );
          const y = tf.tile(x, reps);
          return { shape: y.shape, dtype: y.dtype, values: Array.from(y.dataSync()) };
        });
      const ref = await on('cpu', run);
      const got = await on('wasm', run);
      expect(got).toEqual(ref);
    });
  }

  it('tileInto copies blocks like the definition', () => {
    const src = Float32Array.from({ length: 6 }, (_, i) => i); // [2, 3]
    const dst = new Float32Array(24);
    tileInto(src, dst, [2, 3], [2, 2]);
    expect(Array.from(dst)).toEqual([0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5, 0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5]);
  });
});

describe('wasm Sum and Mean over one run of axes', () => {
  it('reducePlan views x as [P, Q, R] with Q reduced', () => {
    expect(reducePlan([64, 32, 32, 16], [0, 1, 2])).toEqual({ p: 1, q: 65536, r: 16 });
    expect(reducePlan([64, 32, 32, 16], [1, 2])).toEqual({ p: 64, q: 1024, r: 16 });
    expect(reducePlan([64, 10], [-1])).toEqual({ p: 64, q: 10, r: 1 });
    expect(reducePlan([2, 3, 1, 4], [1, 2])).toEqual({ p: 2, q: 3, r: 4 });
    expect(reducePlan([2, 1, 3, 4], [0, 2])).toEqual({ p: 1, q: 6, r: 4 }); // size-1 dims are neutral
    expect(reducePlan([4, 5, 6], [0, 2])).toBeNull();
    expect(reducePlan([4, 1, 6], [1])).toBeNull(); // reduces nothing
  });

  const cases: [number[], number[] | null, boolean][] = [
    [[8, 6, 5, 16], [0, 1, 2], false], // BatchNorm moments, R = 16
    [[8, 6, 5, 16], [1, 2], true], // rank-1 factor gradients [N,1,1,C]
    [[8, 6, 5, 32], [0, 1, 2], false], // R = 32: two register passes
    [[8, 6, 5, 12], [0, 1, 2], false], // R = 12: scratch path
    [[8, 6, 5, 3], [-1], false], // R = 1
    [[7, 9], null, false], // everything
    [[4, 300, 5], [1], true], // Q > 64: several blocks
    [[3, 700], [1], false], // R = 1, Q > 256
    [[2, 3, 1, 4], [1, 2], false],
  ];
  for (const [shape, axes, keepDims] of cases) {
    for (const op of ['sum', 'mean'] as const) {
      it(`${op} ${JSON.stringify(shape)} over ${JSON.stringify(axes)}${keepDims ? ' (keepDims)' : ''} matches cpu`, async () => {
        const run = () =>
          tf.tidy(() => {
            const x = tf.tensor(data(shape, 4), shape);
            const y = tf[op](x, axes ?? undefined, keepDims);
            return { shape: y.shape, values: Array.from(y.dataSync()) };
          });
        const ref = await on('cpu', run);
        const before = wasmMemoryBoundStatus().calls;
        const got = await on('wasm', run);
        expect(wasmMemoryBoundStatus().calls).toBe(before + 1);
        expect(got.shape).toEqual(ref.shape);
        // positive data: the sums' relative rounding error is bounded by ~ (terms / 64 + 64) ulp
        got.values.forEach((v, i) =>
          expect(Math.abs(v - ref.values[i]!)).toBeLessThanOrEqual(1e-6 * Math.abs(ref.values[i]!)),
        );
      });
    }
  }

  for (const [shape, axes, dtype] of [
    [[4, 5, 6], [0, 2], 'float32'],
    [[4, 5, 6], [1], 'int32'],
  ] as const) {
    it(`sum ${JSON.stringify(shape)} over ${JSON.stringify(axes)} ${dtype} goes to the original kernel`, async () => {
      const run = () =>
        tf.tidy(() => {
          const v = data([...shape], 5);
          const x = tf.tensor(
            dtype === 'int32' ? Int32Array.from(v, (e) => Math.round(e * 100)) : v,
            [...shape],
            dtype,
          );
          return Array.from(tf.sum(x, [...axes]).dataSync());
        });
      const ref = await on('cpu', run);
      const before = wasmMemoryBoundStatus();
      const got = await on('wasm', run);
      expect(wasmMemoryBoundStatus().calls).toBe(before.calls);
      expect(wasmMemoryBoundStatus().fallbacks).toBe(before.fallbacks + 1);
      got.forEach((v, i) => expect(v).toBeCloseTo(ref[i]!, 3));
    });
  }
});
