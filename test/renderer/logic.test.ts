import { describe, expect, it } from 'vitest';
import { formatDuration, formatRate, progressText, formatPercent } from '../../src-renderer/lib/format.js';
import { auroc, fprAtTpr, histogram, operatingPoint, riskCoverage } from '../../src-renderer/lib/stats.js';
import {
  forExport,
  matches,
  sortRows,
  summarise,
  topClasses,
  view,
} from '../../src-renderer/lib/predictions.js';
import { progressOf, reduceJob, fromInfo, type JobView } from '../../src-renderer/lib/jobs.js';
import { curvesOf } from '../../src-renderer/lib/curves.js';
import { trainArgsOf, defaultAdvanced } from '../../src-renderer/lib/train.svelte.js';
import { deviceLabel, pickModel, viewFromHash } from '../../src-renderer/lib/app.svelte.js';
import { labelConflicts } from '../../src-renderer/lib/datasets.svelte.js';
import { batches, isImageName } from '../../src-renderer/lib/files.js';
import { tokenFrom, wsUrl } from '../../src-renderer/lib/client.js';
import { demoModel, demoRows } from '../../src-renderer/lib/fake-service.js';
import type {
  DatasetSummary,
  ImportProgress,
  ImportReport,
  JobProgress,
  PredictionRow,
  ServiceEvent,
} from '../../src-main/contract.js';

describe('format', () => {
  it('formats durations, rates and progress', () => {
    expect(formatDuration(42.4)).toBe('42 s');
    expect(formatDuration(185)).toBe('3 min 05 s');
    expect(formatDuration(3 * 3600 + 120)).toBe('3 h 02 min');
    expect(formatDuration(NaN)).toBe('—');
    expect(formatRate(1234.5)).toBe('1235 images/s');
    expect(formatRate(12.34, 'steps')).toBe('12.3 steps/s');
    expect(formatRate(0)).toBe('—');
    expect(formatPercent(0.1234)).toBe('12.3%');
    expect(progressText({ done: 1500, total: 3000, rate: 100, etaSeconds: 15 })).toBe(
      '1,500 / 3,000 · 50% · 100 images/s · 15 s left',
    );
    expect(progressText({ done: 3000, total: 3000, etaSeconds: 0 })).toBe('3,000 / 3,000 · 100%');
  });
});

describe('stats', () => {
  it('bins values with the maximum in the last bin and densities summing to 1', () => {
    const h = histogram([0, 0.1, 0.5, 0.99, 1], { bins: 4, min: 0, max: 1 });
    expect(h.map((b) => b.count)).toEqual([2, 0, 1, 2]);
    expect(h.reduce((s, b) => s + b.density, 0)).toBeCloseTo(1);
    expect(histogram([], { bins: 3 }).every((b) => b.count === 0)).toBe(true);
    expect(histogram([5, 5, 5], { bins: 2 })[0]!.count).toBe(3); // degenerate range widened
  });

  it('computes risk–coverage and the operating point', () => {
    const items = [
      { confidence: 0.99, correct: true },
      { confidence: 0.9, correct: true },
      { confidence: 0.8, correct: false },
      { confidence: 0.6, correct: true },
    ];
    const curve = riskCoverage(items);
    expect(curve.map((p) => p.coverage)).toEqual([0.25, 0.5, 0.75, 1]);
    expect(curve.map((p) => p.accuracy)).toEqual([1, 1, 2 / 3, 0.75]);
    expect(operatingPoint(curve, 0.85)).toEqual({ accepted: 2, coverage: 0.5, accuracy: 1 });
    expect(operatingPoint(curve, 0).accepted).toBe(4);
    expect(operatingPoint(curve, 0.999).accepted).toBe(0);
    // ties collapse into one point
    expect(
      riskCoverage([
        { confidence: 0.5, correct: true },
        { confidence: 0.5, correct: false },
      ]),
    ).toHaveLength(1);
  });

  it('computes AUROC and FPR at 95% TPR', () => {
    expect(auroc([0, 0.1, 0.2], [0.5, 0.6])).toBe(1);
    expect(auroc([0.5, 0.6], [0, 0.1])).toBe(0);
    expect(auroc([1, 1], [1, 1])).toBe(0.5);
    // The engine's definition: the threshold keeps 95% of in-distribution images; FPR is the share
    // of OOD images that pass it (here 0.5 of [0.5, 0.99, 1.2, 2] under the threshold 0.9).
    const inScores = Array.from({ length: 20 }, (_, i) => i * 0.05);
    expect(fprAtTpr(inScores, [0.5, 0.99, 1.2, 2])).toBe(0.25);
    expect(fprAtTpr([0, 0.1, 0.2, 0.9], [0.5, 0.6, 0.7, 0.8])).toBe(1);
  });
});

describe('predictions', () => {
  const rows: PredictionRow[] = [
    { file: '/a/b.png', name: 'b.png', label: '1', confidence: 0.9, entropy: 0.3 },
    {
      file: '/a/a.png',
      name: 'a.png',
      label: '7',
      confidence: 0.4,
      entropy: 1.9,
      ood: true,
      uncertain: true,
    },
    { file: '/a/c.png', name: 'c.png', label: '2', confidence: 0.6, entropy: 1.1, uncertain: true },
    { file: '/a/x.txt', name: 'x.txt', error: 'not an image' },
  ];
  it('sorts by entropy, confidence and name; missing values last', () => {
    expect(sortRows(rows, 'entropy-desc').map((r) => r.name)).toEqual(['a.png', 'c.png', 'b.png', 'x.txt']);
    expect(sortRows(rows, 'entropy-asc').map((r) => r.name)).toEqual(['b.png', 'c.png', 'a.png', 'x.txt']);
    expect(sortRows(rows, 'confidence-desc')[0]!.name).toBe('b.png');
    expect(sortRows(rows, 'name').map((r) => r.name)).toEqual(['a.png', 'b.png', 'c.png', 'x.txt']);
    expect(sortRows(rows, 'arrival')).toEqual(rows);
  });
  it('filters by flag, entropy and text', () => {
    const f = { flag: 'all' as const, minEntropy: 0, text: '' };
    expect(view(rows, 'arrival', { ...f, flag: 'ood' }).map((r) => r.name)).toEqual(['a.png']);
    expect(view(rows, 'arrival', { ...f, flag: 'uncertain' })).toHaveLength(2);
    expect(view(rows, 'arrival', { ...f, flag: 'confident' }).map((r) => r.name)).toEqual(['b.png']);
    expect(view(rows, 'arrival', { ...f, flag: 'errors' })).toHaveLength(1);
    expect(view(rows, 'arrival', { ...f, minEntropy: 1 })).toHaveLength(2);
    expect(matches(rows[1]!, { ...f, text: '7' })).toBe(true);
    expect(summarise(rows)).toEqual({ total: 4, ood: 1, uncertain: 2, errors: 1 });
  });
  it('picks top classes and strips bulky fields for export', () => {
    const r: PredictionRow = { file: 'f', name: 'f', probabilities: [0.1, 0.7, 0.2], thumbnail: 'data:..' };
    expect(topClasses(r, ['a', 'b', 'c'], 2)).toEqual([
      { label: 'b', p: 0.7 },
      { label: 'c', p: 0.2 },
    ]);
    expect(forExport([r])[0]).toEqual({ file: 'f', name: 'f' });
  });
});

describe('job event reduction', () => {
  const t0 = 1_000_000;
  const ev = (progress: JobProgress): ServiceEvent => ({
    type: 'job.progress',
    jobId: 'j',
    kind: 'predict',
    progress,
  });
  it('measures rate and ETA from progress events', () => {
    let j = reduceJob(undefined, ev({ done: 0, total: 1000 }), t0)!;
    j = reduceJob(j, ev({ done: 200, total: 1000 }), t0 + 2000)!;
    expect(j.rate).toBeCloseTo(100);
    expect(j.etaSeconds).toBeCloseTo(8);
    j = reduceJob(
      j,
      { type: 'job.done', jobId: 'j', kind: 'import', result: { id: 'd' } as never },
      t0 + 3000,
    )!;
    expect(j.state).toBe('done');
    expect(j.result).toEqual({ id: 'd' });
  });
  it('keeps training steps, epochs (deduplicated) and failure messages', () => {
    const tr = (p: unknown): ServiceEvent => ({
      type: 'job.progress',
      jobId: 't',
      kind: 'train',
      progress: p as never,
    });
    let j: JobView | undefined = reduceJob(
      undefined,
      tr({ type: 'start', totalSteps: 100, stepsPerEpoch: 10, backend: 'wasm', device: 'CPU' }),
      t0,
    );
    j = reduceJob(
      j,
      tr({
        type: 'step',
        epoch: 1,
        step: 10,
        totalSteps: 100,
        loss: 1,
        kl: 0,
        lr: 0.1,
        imagesPerSecond: 500,
        etaSeconds: 90,
      }),
      t0 + 1,
    );
    expect(j).toMatchObject({ done: 10, total: 100, rate: 500, etaSeconds: 90, backend: 'wasm' });
    const m = { epoch: 1, trainLoss: 1 } as never;
    j = reduceJob(j, tr({ type: 'epoch', metrics: m }), t0 + 2);
    j = reduceJob(j, tr({ type: 'epoch', metrics: m }), t0 + 3);
    expect(j!.history).toHaveLength(1);
    j = reduceJob(
      j,
      {
        type: 'job.failed',
        jobId: 't',
        kind: 'train',
        error: { code: 'failed', message: 'Out of memory: lower the batch size.' },
      },
      t0 + 4,
    );
    expect(j).toMatchObject({ state: 'failed', error: 'Out of memory: lower the batch size.' });
  });
  it('restores a running job from jobs.list with its history', () => {
    const j = fromInfo(
      {
        jobId: 'x',
        kind: 'train',
        state: 'running',
        startedAt: new Date(t0).toISOString(),
        title: 'Train',
        last: {
          type: 'step',
          epoch: 2,
          step: 15,
          totalSteps: 30,
          loss: 0.5,
          kl: 0,
          lr: 0.1,
          imagesPerSecond: 100,
          etaSeconds: 10,
        },
        history: [{ epoch: 1 } as never],
      },
      t0 + 5,
    );
    expect(j).toMatchObject({ done: 15, total: 30, epoch: 2, history: [{ epoch: 1 }], startedAt: t0 });
    // Evaluate and predict: images done of total.
    expect(progressOf({ done: 3, total: 9 })).toEqual({ done: 3, total: 9 });
    // A backbone embedding the splits before training; its download reports only the phase.
    expect(progressOf({ phase: 'embed', split: 'train', done: 5, total: 50 })).toEqual({
      done: 5,
      total: 50,
      phase: 'embed',
    });
    expect(progressOf({ phase: 'download', name: 'b', filesDone: 1, filesTotal: 2, bytes: 10 })).toEqual({
      phase: 'download',
    });
    // The data room's ImportProgress: done = decoded + cached + skipped.
    const imp: ImportProgress = {
      phase: 'decode',
      scanned: 3000,
      decoded: 1200,
      cached: 300,
      skipped: 2,
      total: 3000,
      imagesPerSecond: 900,
      etaSeconds: 2,
    };
    expect(progressOf(imp)).toMatchObject({ done: 1502, total: 3000, phase: 'decode', rate: 900, eta: 2 });
  });
  it('turns history into chart columns', () => {
    const c = curvesOf([{ epoch: 2, trainLoss: 1 } as never, { epoch: 1, trainLoss: 2 } as never]);
    expect(c.epoch).toEqual([1, 2]);
    expect(c.trainLoss).toEqual([2, 1]);
    expect(c.valLoss.every(Number.isNaN)).toBe(true);
  });
});

describe('app helpers', () => {
  it('labels devices and picks the model Predict uses', () => {
    expect(deviceLabel({ name: 'wasm', device: 'x' })).toBe('CPU (wasm)');
    expect(deviceLabel({ name: 'tensorflow', device: 'NVIDIA H100' })).toBe('NVIDIA H100');
    const demo = demoModel();
    const mine = demoModel({ id: 'm1', demo: false, createdAt: '2025-01-01T00:00:00Z' });
    expect(pickModel([demo], null)!.id).toBe('demo-digits');
    expect(pickModel([demo, mine], null)!.id).toBe('m1');
    expect(pickModel([demo, mine], 'demo-digits')!.id).toBe('demo-digits');
    expect(viewFromHash('#/predict')).toBe('predict');
    expect(viewFromHash('#/nope')).toBeNull();
  });
  it('builds train arguments from a preset or the advanced form', () => {
    // "Quick" is a small network from scratch: it never asks for a backbone (issue 15).
    expect(trainArgsOf('ds', ' ', 'quick', null)).toEqual({
      dataset: 'ds',
      preset: 'quick',
      backbone: 'none',
    });
    expect(trainArgsOf('ds', '', 'balanced', defaultAdvanced)).toMatchObject({ backbone: 'none' });
    expect(
      trainArgsOf('ds', '', 'quick', { ...defaultAdvanced, backbone: 'imported-0123456789ab' }),
    ).toMatchObject({ backbone: 'imported-0123456789ab' });
    // "Pretrained (fast)": the quick recipe on the default ImageNet backbone (issue 8)
    expect(trainArgsOf('ds', '', 'pretrained', null)).toEqual({
      dataset: 'ds',
      preset: 'quick',
      backbone: 'mobilenet-v1-0.25',
    });
    expect(trainArgsOf('ds', '', 'quick', { ...defaultAdvanced, backbone: 'none' })).toMatchObject({
      backbone: 'none',
    });
    // Opening Advanced changes nothing by itself: no epochs of its own (the preset's count runs),
    // and "Pretrained" keeps its backbone (issue 15: it silently became a from-scratch CNN).
    expect(trainArgsOf('ds', '', 'quick', defaultAdvanced)).not.toHaveProperty('epochs');
    // Nor a batch size, learning rate or augmentation of its own: the engine chooses them from the
    // data and device as it does for `rank1 train` (batch 128 on a GPU, flip for colour photos).
    for (const field of ['batchSize', 'learningRate', 'augment'])
      expect(trainArgsOf('ds', '', 'quick', defaultAdvanced)).not.toHaveProperty(field);
    expect(
      trainArgsOf('ds', '', 'quick', {
        ...defaultAdvanced,
        batchSize: 16,
        learningRate: 0.01,
        crop: 'off',
        flip: 'on',
      }),
    ).toMatchObject({ batchSize: 16, learningRate: 0.01, augment: { crop: false, flip: true } });
    expect(trainArgsOf('ds', '', 'quick', { ...defaultAdvanced, flip: 'off' }).augment).toEqual({
      flip: false,
    });
    expect(trainArgsOf('ds', '', 'pretrained', defaultAdvanced)).toMatchObject({
      backbone: 'mobilenet-v1-0.25',
    });
    expect(trainArgsOf('ds', '', 'quick', { ...defaultAdvanced, epochs: 3 })).toMatchObject({ epochs: 3 });
    // "Fine-tune last N blocks" (issue 16 item 6): sent with a backbone, never without one.
    expect(trainArgsOf('ds', '', 'quick', defaultAdvanced)).not.toHaveProperty('fineTune');
    expect(trainArgsOf('ds', '', 'pretrained', { ...defaultAdvanced, fineTune: 2 })).toMatchObject({
      backbone: 'mobilenet-v1-0.25',
      fineTune: 2,
    });
    expect(trainArgsOf('ds', '', 'quick', { ...defaultAdvanced, fineTune: 2 })).not.toHaveProperty(
      'fineTune',
    );
    const a = trainArgsOf('ds', 'n', 'best', { ...defaultAdvanced, method: 'deterministic' });
    // K as the form holds it: the engine's resolveModelConfig sets K = 1 for one-network methods.
    expect(a).toMatchObject({
      name: 'n',
      members: defaultAdvanced.members,
      method: 'deterministic',
    });
  });
  it('lists only cross-class duplicates of the real import report as label conflicts, with their classes', () => {
    const report: ImportReport = {
      classes: { cat: 3, dog: 1 },
      splits: { train: { cat: 3, dog: 1 }, val: {}, test: {} },
      skipped: [],
      duplicates: [
        { hash: 'h1', files: ['/d/cat/a.png', '/d/dog/a.png'], crossClass: true },
        { hash: 'h2', files: ['/d/cat/b.png', '/d/cat/sub/c.png'], crossClass: false },
      ],
      warnings: [],
      images: 4,
      seconds: 1,
      imagesPerSecond: 4,
      givenSplits: false,
      decoded: 4,
      cached: 0,
    };
    const summary: DatasetSummary = {
      id: 'x',
      root: '/d',
      images: 4,
      classes: ['cat', 'dog'],
      preprocessing: { size: 32, fit: 'cover', channels: 3 },
      importedAt: '2026-12-03T00:00:00.000Z',
      report,
    };
    expect(labelConflicts(summary)).toEqual([
      { file: '/d/cat/a.png, /d/dog/a.png', classes: ['cat', 'dog'] },
    ]);
    // Given splits: the class is the folder under train/val/test.
    const split: DatasetSummary = {
      ...summary,
      report: {
        ...report,
        givenSplits: true,
        duplicates: [{ hash: 'h3', files: ['/d/train/cat/a.png', '/d/test/dog/a.png'], crossClass: true }],
      },
    };
    expect(labelConflicts(split)).toEqual([
      { file: '/d/train/cat/a.png, /d/test/dog/a.png', classes: ['cat', 'dog'] },
    ]);
    expect(labelConflicts({ ...summary, report: undefined })).toEqual([]);
    expect(labelConflicts(undefined)).toEqual([]);
  });
  it('batches uploads and recognises images; builds the ws URL and token', () => {
    expect(
      batches(
        Array.from({ length: 300 }, () => ({ size: 10 })),
        128,
      ).map((b) => b.length),
    ).toEqual([128, 128, 44]);
    expect(batches([{ size: 20e6 }, { size: 20e6 }]).length).toBe(2);
    expect(isImageName('a.JPG')).toBe(true);
    expect(isImageName('a.txt')).toBe(false);
    expect(wsUrl({ protocol: 'https:', host: 'h:1' })).toBe('wss://h:1/ws');
    expect(wsUrl({ protocol: 'http:', host: '127.0.0.1:5' })).toBe('ws://127.0.0.1:5/ws');
    expect(tokenFrom('?token=abc&x=1')).toBe('abc');
    expect(tokenFrom('')).toBeNull();
    expect(demoRows(5)).toHaveLength(5);
  });
});

describe('choosing the OOD flag score', () => {
  it('calls models.setFlag for the evaluated model, then refreshes the model list; shows a refusal', async () => {
    const { EvaluateState } = await import('../../src-renderer/lib/evaluate.svelte.js');
    const calls: unknown[][] = [];
    let refreshed = 0;
    let refuse = false;
    const app = {
      client: {
        call: async (...a: unknown[]) => {
          calls.push(a);
          if (refuse)
            throw Object.assign(new Error('model "m1" has no fitted threshold for "knn"'), {
              code: 'failed',
            });
          return {};
        },
      },
      refreshModels: async () => void refreshed++,
      models: [],
      jobs: { get: () => undefined },
    };
    const ev = new EvaluateState(app as never);
    ev.result = { model: 'm1', split: 'val', metrics: {} as never, items: [] };
    await ev.useForFlag('knn');
    expect(calls).toEqual([['models.setFlag', { id: 'm1', score: 'knn' }]]);
    expect(refreshed).toBe(1);
    expect(ev.error).toBeNull();
    refuse = true;
    await ev.useForFlag('knn');
    expect(ev.error).toMatch(/no fitted threshold/);
  });
});

describe('no dataset chosen', () => {
  // The dataset pickers of Train and Evaluate are lists of imported datasets: there is no field to
  // type a folder path into, so the message must not send people looking for one.
  const app = { models: [], datasets: [], newestDataset: undefined, activeModel: { id: 'm1' } };
  it('Evaluate and Train point to Datasets, never to a path field that is not there', async () => {
    const { EvaluateState } = await import('../../src-renderer/lib/evaluate.svelte.js');
    const { TrainState } = await import('../../src-renderer/lib/train.svelte.js');
    const ev = new EvaluateState({ ...app, jobs: { get: () => undefined } } as never);
    await ev.run();
    const tr = new TrainState({ ...app, jobs: { get: () => undefined, running: () => [] } } as never);
    await tr.start();
    for (const error of [ev.error, tr.error]) {
      expect(error).toMatch(/import one under Datasets/);
      expect(error).not.toMatch(/type a folder path/);
    }
  });
});

describe('Evaluate defaults to the model’s own dataset', () => {
  const ds = (id: string, root: string, importedAt: string) =>
    ({ id, root, images: 10, classes: ['a', 'b'], preprocessing: {}, importedAt }) as never;
  const datasets = [
    ds('cifar-old', '/data/cifar', '2026-12-01T10:00:00Z'),
    ds('cifar-new', '/data/cifar', '2026-12-02T10:00:00Z'),
    ds('mnist', '/data/mnist', '2026-12-03T10:00:00Z'),
  ];

  it('picks the newest import of the folder the model was trained on, else the newest dataset', async () => {
    const { evaluationDataset } = await import('../../src-renderer/lib/evaluate.svelte.js');
    expect(evaluationDataset({ datasetRoot: '/data/cifar' }, datasets)?.id).toBe('cifar-new');
    expect(evaluationDataset({ datasetRoot: '/data/cifar/' }, datasets)?.id).toBe('cifar-new');
    // Not imported here (a model from another machine), or no folder known: the newest dataset.
    expect(evaluationDataset({ datasetRoot: '/elsewhere/cifar' }, datasets)?.id).toBe('mnist');
    expect(evaluationDataset({}, datasets)?.id).toBe('mnist');
    expect(evaluationDataset(undefined, [])).toBeUndefined();
  });

  it('runs the evaluation on the chosen model’s dataset when none was picked', async () => {
    const { EvaluateState } = await import('../../src-renderer/lib/evaluate.svelte.js');
    const started: unknown[] = [];
    const models = [
      { id: 'on-cifar', datasetRoot: '/data/cifar' },
      { id: 'on-mnist', datasetRoot: '/data/mnist' },
    ];
    const app = {
      models,
      datasets,
      newestDataset: datasets[2],
      activeModel: models[1],
      jobs: {
        get: () => undefined,
        start: async (_c: unknown, _op: string, args: unknown) => (started.push(args), 'j1'),
        waitFor: async () => ({ model: 'on-cifar', split: 'val', metrics: {}, items: [] }),
      },
    };
    const ev = new EvaluateState(app as never);
    ev.model = 'on-cifar';
    expect(ev.defaultDataset?.id).toBe('cifar-new');
    await ev.run();
    expect(started).toEqual([{ model: 'on-cifar', dataset: 'cifar-new' }]);
    // A dataset picked by hand wins.
    ev.dataset = 'mnist';
    await ev.run();
    expect(started.at(-1)).toEqual({ model: 'on-cifar', dataset: 'mnist' });
  });
});

describe('training curves', () => {
  it('plots the NLL (data term) and the KL term apart, never their sum', async () => {
    const { charts } = await import('../../src-renderer/lib/curves.js');
    const keys = charts.flatMap((c) => c.series.map((s) => s.key));
    expect(keys).not.toContain('trainLoss');
    expect(keys).not.toContain('valLoss');
    expect(charts.find((c) => c.series.some((s) => s.key === 'trainNll'))?.title).toMatch(/NLL/);
    expect(charts.find((c) => c.series.some((s) => s.key === 'kl'))?.title).toMatch(/KL penalty/);
  });
});

describe('copy into class folders', () => {
  it('says how many were not copied and why', async () => {
    const { copyNotice } = await import('../../src-renderer/lib/predict.svelte.js');
    expect(
      copyNotice({
        dest: '/out',
        copied: 1,
        folders: { '3': 1 },
        skipped: [
          { file: 'a.png', reason: 'dropped image (no file on disk)' },
          { file: 'b.png', reason: 'dropped image (no file on disk)' },
        ],
      }),
    ).toBe('Copied 1 image(s) into /out (3: 1). 2 not copied: dropped image (no file on disk) ×2.');
  });
});

describe('cancelling a job', () => {
  it('asks the service for the page’s job, and shows a refusal in that page’s error line', async () => {
    const { AppState } = await import('../../src-renderer/lib/app.svelte.js');
    const calls: unknown[] = [];
    let refuse = false;
    const client = {
      call: async (op: string, args: unknown) => {
        calls.push([op, args]);
        if (refuse) throw new Error('No running job j2.');
        return {};
      },
    };
    const app = new AppState(client as never, { kind: 'fake' } as never);
    app.compare.jobId = 'j1';
    await app.compare.cancel();
    expect(calls).toEqual([['jobs.cancel', { jobId: 'j1' }]]);
    expect(app.compare.error).toBeNull();
    refuse = true;
    app.train.jobId = 'j2';
    await app.train.cancel();
    expect(app.train.error).toBe('No running job j2.');
    // No job: nothing asked, nothing said.
    await app.evaluate.cancel();
    await app.data.cancelImport();
    expect(calls).toHaveLength(2);
    expect([app.evaluate.error, app.data.importError]).toEqual([null, null]);
  });
});
