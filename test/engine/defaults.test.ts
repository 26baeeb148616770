import { describe, expect, it } from 'vitest';
import {
  epochsFor,
  INIT_STDDEV,
  klScaleAt,
  learningRateAt,
  MC_DROPOUT_SAMPLES,
  membersOf,
  MIN_STEPS_PER_PRESET_EPOCH,
  PAPER_RANDOM_SIGN_INIT,
  presets,
  resolveModelConfig,
  resolveTrainConfig,
  SHORT_SCHEDULE_MEMBER_BATCHES,
  SHORT_SCHEDULE_SIGN_INIT,
  stepsPerEpoch,
  type Preset,
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

describe('small folders', () => {
  const presetNames: Preset[] = ['quick', 'balanced', 'best'];
  // The training splits (90%) of the benchmark folders: MNIST 2,400 and CIFAR-10 10,000 images.
  const mnist2400 = { size: 28, channels: 1 as const, count: 2160, numClasses: 10 };
  const cifar10k = { size: 32, channels: 3 as const, count: 9000, numClasses: 10 };
  const tiny = { size: 28, channels: 1 as const, count: 26, numClasses: 2 };

  it('keep today’s recipe on the benchmark folders, every preset, CPU and GPU', () => {
    // Today's rule, spelled out: the preset's epochs, B = min(64 | 128, N), LR = 0.1·B/128.
    const today = { quick: [5, 5], balanced: [15, 30], best: [40, 100] } as const;
    for (const d of [mnist2400, mnist, cifar10k])
      for (const gpu of [false, true])
        for (const preset of presetNames) {
          const shape = { ...d, gpu };
          const model = resolveModelConfig(shape, {}, preset);
          const t = resolveTrainConfig(shape, model, {}, preset);
          const B = gpu ? 128 : 64;
          expect(t.batchSize).toBe(B);
          expect(t.learningRate).toBeCloseTo((0.1 * B) / 128, 12);
          expect(t.epochs).toBe(gpu ? today[preset][1] : today[preset][0]);
          // Every other field as well: the floor touches the epochs only.
          expect(t).toEqual(resolveTrainConfig(shape, model, { epochs: t.epochs }, preset));
        }
  });
  it('give a small folder at least MIN_STEPS_PER_PRESET_EPOCH steps per preset epoch', () => {
    for (const count of [2, 26, 90, 135, 270, 540])
      for (const preset of presetNames) {
        const d = { ...tiny, count };
        const t = resolveTrainConfig(d, resolveModelConfig(d, {}, preset), {}, preset);
        const presetEpochs = presets[preset].epochs(d);
        const steps = t.epochs * stepsPerEpoch(count, t.batchSize);
        expect(t.batchSize).toBe(Math.min(64, count));
        expect(steps).toBeGreaterThanOrEqual(MIN_STEPS_PER_PRESET_EPOCH * presetEpochs);
        expect(t.epochs).toBe(epochsFor(d, 'cnn', t.batchSize, preset));
        // Capped: never more than ×MIN_STEPS_PER_PRESET_EPOCH the preset's epochs.
        expect(t.epochs).toBeLessThanOrEqual(presetEpochs * MIN_STEPS_PER_PRESET_EPOCH);
      }
    // 2 classes × 15 images (26 train): one step an epoch, so 150 epochs instead of 15.
    expect(resolveTrainConfig(tiny, resolveModelConfig(tiny)).epochs).toBe(150);
    // 540 images: 8 steps an epoch, 19 epochs (152 steps) instead of 15 (120 steps).
    expect(resolveTrainConfig({ ...tiny, count: 540 }, resolveModelConfig(tiny)).epochs).toBe(19);
  });
  it('leave a head on frozen features at the preset’s epochs (more steps over-fit cached features)', () => {
    const photos = { size: 64, channels: 3 as const, count: 26, numClasses: 2 };
    const head = resolveModelConfig(photos, { arch: 'head', embeddingSize: 256 });
    expect(resolveTrainConfig(photos, head).epochs).toBe(15);
    expect(resolveTrainConfig(photos, head, {}, 'best').epochs).toBe(40);
    expect(resolveTrainConfig(photos, resolveModelConfig(photos)).epochs).toBe(150);
  });
  it('let an explicit --epochs win, and floor the epochs of an explicit --batch-size', () => {
    expect(resolveTrainConfig(tiny, resolveModelConfig(tiny), { epochs: 3 }).epochs).toBe(3);
    const t = resolveTrainConfig({ ...tiny, count: 540 }, resolveModelConfig(tiny), { batchSize: 8 });
    expect(t.batchSize).toBe(8);
    expect(t.epochs).toBe(15); // 67 steps an epoch: the preset's epochs already suffice.
    const big = resolveTrainConfig(mnist2400, resolveModelConfig(mnist2400), { batchSize: 1024 });
    expect(big.epochs).toBe(75); // 2 steps an epoch: 15 × 10 / 2.
  });
  it('stretch the LR decays and KL annealing with the epochs', () => {
    const t = resolveTrainConfig(tiny, resolveModelConfig(tiny));
    expect(learningRateAt(t, 0.4 * t.epochs - 0.5)).toBeCloseTo(t.learningRate, 12);
    expect(learningRateAt(t, 0.4 * t.epochs)).toBeCloseTo(t.learningRate * 0.2, 12);
    expect(klScaleAt(t, 0.8 * t.epochs - 1, 1)).toBe(1);
    expect(klScaleAt(t, 0.4 * t.epochs - 1, 1)).toBeCloseTo(0.5, 12);
  });
});
