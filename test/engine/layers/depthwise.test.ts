/**
 * DepthwiseConv2DRank1 (layers/depthwise.ts) against the oracle: TF.js's own depthwiseConv2d and
 * its gradients on the cpu backend, for TF's 'same' and 'valid' padding at strides 1 and 2; the
 * rank-1 factors as spec §1 defines them (input channels scaled by α̃, output channels by γ̃).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DepthwiseConv2DRank1,
  depthwiseConv,
  type Padding,
} from '../../../src-main/engine/layers/depthwise.js';
import { Rng } from '../../../src-main/engine/random.js';
import { TEST_FACTORS } from '../helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!;

describe('depthwiseConv: shifted products equal tf.depthwiseConv2d', () => {
  const cases: [number, number, Padding, number][] = [
    [7, 1, 'same', 3],
    [14, 2, 'same', 3],
    [7, 2, 'same', 3],
    [9, 2, 'valid', 3],
    [8, 1, 'valid', 5],
  ];
  for (const [size, strides, padding, k] of cases)
    it(`${size}×${size}, ${k}×${k}, stride ${strides}, ${padding}: values and both gradients`, () => {
      const x = tf.randomNormal([3, size, size, 5], 0, 1, 'float32', 1) as tf.Tensor4D;
      const w = tf.randomNormal([k, k, 5, 1], 0, 1, 'float32', 2) as tf.Tensor4D;
      const ours = depthwiseConv(x, w, strides, padding);
      const theirs = tf.depthwiseConv2d(x, w, strides, padding);
      expect(ours.shape).toEqual(theirs.shape);
      expect(maxDiff(ours, theirs)).toBeLessThan(1e-5);
      const probe = tf.randomNormal(theirs.shape, 0, 1, 'float32', 3);
      const loss =
        (f: (a: tf.Tensor4D, b: tf.Tensor4D) => tf.Tensor) =>
        (...[a, b]: tf.Tensor[]) =>
          tf.sum(tf.mul(f(a as tf.Tensor4D, b as tf.Tensor4D), probe));
      const [gx1, gw1] = tf.grads(loss((a, b) => depthwiseConv(a, b, strides, padding)))([x, w]);
      const [gx2, gw2] = tf.grads(loss((a, b) => tf.depthwiseConv2d(a, b, strides, padding)))([x, w]);
      expect(maxDiff(gx1!, gx2!)).toBeLessThan(1e-4);
      expect(maxDiff(gw1!, gw2!)).toBeLessThan(1e-4);
    });
});

describe('DepthwiseConv2DRank1', () => {
  it('out = dwconv(x ⊙ α̃, W) ⊙ γ̃ per member row (spec §1)', () => {
    const opts = { ...TEST_FACTORS, method: 'batchensemble' as const, members: 2 };
    const l = new DepthwiseConv2DRank1(
      { name: 'dw', channels: 4, kernelSize: 3, strides: 2 },
      opts,
      new Rng(4),
    );
    const alpha = tf.tensor2d([1, 2, 3, 4, -1, 0.5, 2, 1], [2, 4]);
    const gamma = tf.tensor2d([2, 1, 1, 0.5, 1, 3, -1, 1], [2, 4]);
    const x = tf.randomNormal([4, 6, 6, 4], 0, 1, 'float32', 5) as tf.Tensor4D;
    const y = l.apply(x, { training: false, rng: new Rng(0), factors: new Map([['dw', { alpha, gamma }]]) });
    // Rows 0–1 are member 0, rows 2–3 member 1.
    const rows = tf.split(x, 2, 0);
    const want = tf.concat(
      rows.map((r, k) => {
        const a = tf.reshape(alpha.slice([k, 0], [1, 4]), [1, 1, 1, 4]);
        const g = tf.reshape(gamma.slice([k, 0], [1, 4]), [1, 1, 1, 4]);
        return tf.mul(tf.depthwiseConv2d(tf.mul(r, a) as tf.Tensor4D, l.kernel as tf.Tensor4D, 2, 'same'), g);
      }),
      0,
    );
    expect(maxDiff(y, want)).toBeLessThan(1e-5);
    l.dispose();
  });
});
