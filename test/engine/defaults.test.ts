import { describe, expect, it } from 'vitest';
import {
  INIT_STDDEV,
  klScaleAt,
  learningRateAt,
  MC_DROPOUT_SAMPLES,
  membersOf,
  PAPER_RANDOM_SIGN_INIT,
  resolveModelConfig,
  resolveTrainConfig,
  SHORT_SCHEDULE_MEMBER_BATCHES,
  SHORT_SCHEDULE_SIGN_INIT,
} from '../../src-main/engine/defaults.js';

const mnist = { size: 28, channels: 1 as const, count: 2700, numClasses: 10 };
const cifar = { size: 32, channels: 3 as const, count: 9000, numClasses: 10 };

describe('model defaults', () => {
  it('follow the paper: K=4, Gaussian, prior N(1, 0.1), σ0 = sqrt(p/(1−p)) with p = 1e-3 (spec §2–3)', () => {
    const c = resolveModelConfig(cifar);
    expect(c).toMatchObject({
      method: 'rank1',
      members: 4,
      posterior: 'gaussian',
      priorMean: 1,
      priorStddev: 0.1,
    });
    expect(INIT_STDDEV).toBeCloseTo(0.031639, 6);
    expect(Math.log(Math.expm1(INIT_STDDEV))).toBeCloseTo(-3.4375, 3);
  });
  it('choose the architecture from the data and backend', () => {
    expect(resolveModelConfig(mnist).arch).toBe('cnn');
    expect(resolveModelConfig({ ...cifar, gpu: true }).arch).toBe('resnet20');
    expect(resolveModelConfig({ ...cifar, size: 8 }).arch).toBe('mlp');
    expect(resolveModelConfig({ ...cifar, gpu: true }, {}, 'best').arch).toBe('wrn-28-10');
    expect(resolveModelConfig(cifar, { arch: 'resnet20' }).inputShape).toEqual([32, 32, 3]);
  });
  it('give each member its own images in the short schedules, and tile them in `best` (the paper’s) and on a frozen backbone', () => {
    const tc = (preset: 'quick' | 'balanced' | 'best') =>
      resolveTrainConfig(mnist, resolveModelConfig(mnist, {}, preset), {}, preset);
    expect(SHORT_SCHEDULE_MEMBER_BATCHES).toBe('independent');
    expect(tc('quick').memberBatches).toBe('independent');
    expect(tc('balanced').memberBatches).toBe('independent');
    expect(tc('best').memberBatches).toBe('tiled');
    const head = resolveModelConfig(cifar, { arch: 'head', embeddingSize: 256 });
    expect(resolveTrainConfig(cifar, head).memberBatches).toBe('tiled');
    // An ensemble's networks train as if alone, each from its own shuffle, in every preset.
    const ensemble = resolveModelConfig(cifar, { method: 'ensemble' }, 'best');
    expect(resolveTrainConfig(cifar, ensemble, {}, 'best').memberBatches).toBe('independent');
    expect(
      resolveTrainConfig(mnist, resolveModelConfig(mnist), { memberBatches: 'tiled' }).memberBatches,
    ).toBe('tiled');
  });
  it('use the paper’s random signs for the long `best` schedule and Normal(1, 0.1) for short ones', () => {
    expect(resolveModelConfig(cifar, {}, 'best').randomSignInit).toBe(PAPER_RANDOM_SIGN_INIT);
    expect(resolveModelConfig(cifar, {}, 'quick').randomSignInit).toBe(SHORT_SCHEDULE_SIGN_INIT);
    expect(resolveModelConfig(cifar, { method: 'batchensemble' }).randomSignInit).toBe(0.5);
    expect(resolveModelConfig(cifar, { randomSignInit: 0.75 }).randomSignInit).toBe(0.75);
    expect(resolveModelConfig(cifar, { method: 'deterministic', members: 4 }).members).toBe(1);
  });
});

describe('training defaults', () => {
  it('scale the SGD learning rate with the batch: 0.1·B/128 (spec §4)', () => {
    const t = resolveTrainConfig(cifar, resolveModelConfig(cifar), { batchSize: 64 });
    expect(t.learningRate).toBeCloseTo(0.05, 12);
    expect(t.lrDecayAt).toEqual([0.4, 0.8, 0.9]);
    expect(t.lrDecayRatio).toBe(0.2);
    expect(t.l2).toBe(1e-4);
    expect(t.klAnnealFraction).toBe(0.8);
  });
  it('flip photos but not grey symbols; a partial augment keeps the other default', () => {
    expect(resolveTrainConfig(cifar, resolveModelConfig(cifar)).augment).toEqual({ crop: true, flip: true });
    expect(resolveTrainConfig(mnist, resolveModelConfig(mnist)).augment).toEqual({ crop: true, flip: false });
    expect(
      resolveTrainConfig(cifar, resolveModelConfig(cifar), { augment: { flip: false } as never }).augment,
    ).toEqual({ crop: true, flip: false });
  });
  it('uses 4 eval samples for Cauchy, 1 for Gaussian (spec §2)', () => {
    expect(resolveTrainConfig(cifar, resolveModelConfig(cifar, { posterior: 'cauchy' })).evalSamples).toBe(4);
    expect(resolveTrainConfig(cifar, resolveModelConfig(cifar)).evalSamples).toBe(1);
  });
  it('give the baselines their shape: one network for deterministic and MC dropout, K for ensembles', () => {
    const of = (method: 'deterministic' | 'mcdropout' | 'ensemble' | 'batchensemble') =>
      resolveModelConfig(mnist, { method, members: 3 });
    expect(membersOf(of('deterministic'))).toBe(1);
    expect(of('mcdropout')).toMatchObject({ members: 1, dropoutRate: 0.1 });
    expect(membersOf(of('ensemble'))).toBe(3);
    expect(membersOf(of('batchensemble'))).toBe(3);
    // MC dropout's uncertainty comes only from its samples.
    expect(resolveTrainConfig(mnist, of('mcdropout')).evalSamples).toBe(MC_DROPOUT_SAMPLES);
    expect(resolveModelConfig(mnist, { method: 'mcdropout', dropoutRate: 0.3 }).dropoutRate).toBe(0.3);
  });
});

describe('schedules', () => {
  const t = resolveTrainConfig(cifar, resolveModelConfig(cifar), { epochs: 10, batchSize: 128 });
  it('warms up linearly over one epoch, then ×0.2 at 40/80/90% (spec §4)', () => {
    expect(learningRateAt(t, 0)).toBe(0);
    expect(learningRateAt(t, 0.5)).toBeCloseTo(0.05, 12);
    expect(learningRateAt(t, 1)).toBeCloseTo(0.1, 12);
    expect(learningRateAt(t, 3.99)).toBeCloseTo(0.1, 12);
    expect(learningRateAt(t, 4)).toBeCloseTo(0.02, 12);
    expect(learningRateAt(t, 8)).toBeCloseTo(0.004, 12);
    expect(learningRateAt(t, 9)).toBeCloseTo(0.0008, 12);
  });
  it('anneals the KL linearly per step over 80% of training, then holds 1 (spec §3)', () => {
    expect(klScaleAt(t, 0, 100)).toBeCloseTo(1 / 800, 12);
    expect(klScaleAt(t, 399, 100)).toBeCloseTo(0.5, 12);
    expect(klScaleAt(t, 799, 100)).toBe(1);
    expect(klScaleAt(t, 950, 100)).toBe(1);
  });
});
