import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveModelConfig } from '../../src-main/engine/defaults.js';
import { buildModel, namedVariables } from '../../src-main/engine/models/index.js';
import { Rng } from '../../src-main/engine/random.js';

const cifar = { size: 32, channels: 3 as const, count: 50_000, numClasses: 10 };
const count = (m: ReturnType<typeof buildModel>) => m.params().reduce((s, p) => s + p.variable.size, 0);
/** Rank-1 layers = those with an alpha factor; Σ(in + out) over them (spec §6). */
function rank1Layers(m: ReturnType<typeof buildModel>) {
  const alphas = m.params().filter((p) => p.name.endsWith('/alpha/loc'));
  const gammas = m.params().filter((p) => p.name.endsWith('/gamma/loc'));
  const K = m.config.members;
  const dims = [...alphas, ...gammas].reduce((s, p) => s + p.variable.size / K, 0);
  return { layers: alphas.length, dims };
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('models', () => {
  it('resnet20 is the yardstick model: 22 rank-1 layers and the same 284,768 trainable parameters as PyTorch (K=4)', () => {
    // ../shared/bench/torch_rank1_resnet20.py: sum(p.numel() for p in net.parameters()) = 284,768
    const m = buildModel(resolveModelConfig(cifar, { arch: 'resnet20', members: 4 }), new Rng(1));
    expect(rank1Layers(m).layers).toBe(22);
    expect(count(m)).toBe(284_768);
    const out = tf.tidy(() => {
      const r = m.forward(tf.zeros([8, 32, 32, 3]), { training: false, rng: new Rng(1) });
      return { logits: r.logits, features: r.features };
    });
    expect(out.logits.shape).toEqual([8, 10]);
    // penultimate 64, then the stem's and stages 1–2's global averages (16 + 16 + 32)
    expect(out.features.shape).toEqual([8, 128]);
    m.dispose();
  });

  it('wrn-28-10 has the paper’s 29 rank-1 layers with Σ(in + out) = 19,581 (spec §1, §6)', () => {
    const m = buildModel(resolveModelConfig(cifar, { arch: 'wrn-28-10', members: 4 }), new Rng(1));
    const r = rank1Layers(m);
    expect(r.layers).toBe(29);
    expect(r.dims).toBe(19_581);
    // 36.5M shared weights + 2·K·Σ(in+out) factor parameters (loc, ρ) + K·classes head bias ≈ 36.6M
    expect(count(m) / 1e6).toBeGreaterThan(36.4);
    expect(count(m) / 1e6).toBeLessThan(36.8);
    m.dispose();
  }, 120_000);

  it('adapts the stem to 28–128 px inputs and keeps one BatchNorm shared by all members', () => {
    for (const size of [28, 64, 128]) {
      const m = buildModel(resolveModelConfig({ ...cifar, size }, { arch: 'resnet20' }), new Rng(1));
      const f = tf.tidy(
        () => m.forward(tf.zeros([4, size, size, 3]), { training: true, rng: new Rng(2) }).features,
      );
      expect(f.shape).toEqual([4, 128]);
      // one gamma/beta per channel, not per member
      expect(m.params().find((p) => p.name === 'stem_bn/gamma')!.variable.shape).toEqual([16]);
      f.dispose();
      m.dispose();
    }
  });

  it('every variable has a unique saved name; two models coexist', () => {
    const a = buildModel(
      resolveModelConfig({ ...cifar, size: 28, channels: 1 }, { arch: 'cnn' }),
      new Rng(1),
    );
    const b = buildModel(
      resolveModelConfig({ ...cifar, size: 28, channels: 1 }, { arch: 'cnn' }),
      new Rng(1),
    );
    expect([...namedVariables(a).keys()]).toEqual([...namedVariables(b).keys()]);
    expect([...namedVariables(a).keys()]).toContain('bn1/moving_mean');
    a.dispose();
    b.dispose();
  });
});
