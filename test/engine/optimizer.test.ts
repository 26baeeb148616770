import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src-main/engine/backends/index.js';
import { Adam, createOptimizer, NesterovSgd, type Optimizer } from '../../src-main/engine/optimizer.js';

beforeAll(async () => {
  await initBackend('wasm');
});

let n = 0;
const scalarVar = (v: number) => tf.variable(tf.tensor1d([v]), true, `opt-test-${++n}__${n}`);

async function step(opt: Optimizer, v: tf.Variable, g: number, lr: number, scale?: number): Promise<number> {
  const grad = tf.tensor1d([g]);
  opt.apply([v], { [v.name]: grad }, lr, scale === undefined ? undefined : () => scale);
  grad.dispose();
  return (await v.data())[0]!;
}

describe('NesterovSgd (spec §4, tf.keras SGD(momentum=0.9, nesterov=True))', () => {
  it('two steps by hand: v ← μv + g, w ← w − lr(g + μv)', async () => {
    const opt = new NesterovSgd(0.9);
    const w = scalarVar(1);
    // v1 = 2, w1 = 1 − 0.1(2 + 0.9·2) = 0.62
    expect(await step(opt, w, 2, 0.1)).toBeCloseTo(0.62, 6);
    // v2 = 0.9·2 + 1 = 2.8, w2 = 0.62 − 0.1(1 + 0.9·2.8) = 0.268
    expect(await step(opt, w, 1, 0.1)).toBeCloseTo(0.268, 6);
    opt.dispose();
    w.dispose();
  });

  it('the per-variable learning-rate scale multiplies the step (fast factors, spec §3)', async () => {
    const opt = new NesterovSgd(0.9);
    const w = scalarVar(1);
    expect(await step(opt, w, 2, 0.1, 3)).toBeCloseTo(1 - 3 * 0.38, 6);
    opt.dispose();
    w.dispose();
  });
});

describe('Adam', () => {
  it('two steps match the bias-corrected update computed by hand', async () => {
    const [b1, b2, eps, lr] = [0.9, 0.999, 1e-7, 0.1];
    let [m, s, w] = [0, 0, 1];
    const oracle = (g: number, t: number) => {
      m = b1 * m + (1 - b1) * g;
      s = b2 * s + (1 - b2) * g * g;
      w -= (lr * (m / (1 - b1 ** t))) / (Math.sqrt(s / (1 - b2 ** t)) + eps);
      return w;
    };
    const opt = new Adam(b1, b2, eps);
    const v = scalarVar(1);
    expect(await step(opt, v, 2, lr)).toBeCloseTo(oracle(2, 1), 6);
    expect(await step(opt, v, -1, lr)).toBeCloseTo(oracle(-1, 2), 6);
    opt.dispose();
    v.dispose();
  });
});

describe('checkpoints', () => {
  for (const kind of ['sgd', 'adam'] as const) {
    it(`${kind}: save after one step, load into a new optimizer, continue = uninterrupted`, async () => {
      const full = createOptimizer(kind);
      const a = scalarVar(1);
      await step(full, a, 2, 0.1);
      const want = await step(full, a, -0.5, 0.1);

      const first = createOptimizer(kind);
      const b = scalarVar(1);
      await step(first, b, 2, 0.1);
      const saved = await first.saveState();
      const resumed = createOptimizer(kind);
      resumed.load(new Map(saved.map((x) => [x.name, x.data])));
      // a new variable of the same logical name (as after loading a model folder)
      const c = tf.variable(
        tf.tensor1d([(await b.data())[0]!]),
        true,
        `${b.name.replace(/__\d+$/, '')}__999${n}`,
      );
      expect(await step(resumed, c, -0.5, 0.1)).toBeCloseTo(want, 6);
      for (const o of [full, first, resumed]) o.dispose();
      tf.dispose([a, b, c]);
    });
  }

  it('minimises a quadratic: w → its minimum', async () => {
    for (const kind of ['sgd', 'adam'] as const) {
      const opt = createOptimizer(kind);
      const w = scalarVar(5);
      let x = 5;
      for (let i = 0; i < 300; i++) x = await step(opt, w, 2 * (x - 3), kind === 'sgd' ? 0.05 : 0.1);
      expect(x).toBeCloseTo(3, 2);
      opt.dispose();
      w.dispose();
    }
  });
});
