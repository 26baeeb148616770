/**
 * The service with the REAL data module and a FAKE engine (deterministic, instant), so the
 * service's own logic (jobs, grants, streaming, store) is tested independently of training.
 * One test at the end uses the real engine.
 */
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Papa from 'papaparse';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ServiceClient,
  ServiceError,
  type ServiceEvent,
  type ModelSummary,
  type PredictionRow,
} from '../src-main/contract.js';
import {
  createService,
  toServiceError,
  type EngineApi,
  type EngineModel,
  type EngineTrainRequest,
  type Service,
} from '../src-main/service/index.js';
import {
  MODEL_FORMAT_VERSION,
  ModelFormatError,
  readModelFolder,
  writeModelFolder,
  type ModelMeta,
} from '../src-main/store/index.js';
import type { EpochMetrics } from '../src-main/engine/types.js';
import { fakeMeta, fakeWeights } from './store/fake-model.js';
import { SHARED } from './shared-data.js';

const MNIST = `${SHARED}/data/mnist`;
const CLASSES = ['0', '1', '2'];
const PER_CLASS = 7;

let tmp: string;
let home: string;
let ds: string; // an ImageFolder of 21 MNIST PNGs
let outside: string; // a folder never granted

beforeAll(async () => {
  tmp = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-service-')));
  home = path.join(tmp, 'home');
  process.env.RANK1_HOME = home;
  ds = path.join(tmp, 'digits');
  for (const c of CLASSES) {
    await fs.mkdir(path.join(ds, c), { recursive: true });
    const files = (await fs.readdir(path.join(MNIST, c))).sort().slice(0, PER_CLASS);
    for (const f of files) await fs.copyFile(path.join(MNIST, c, f), path.join(ds, c, f));
  }
  outside = path.join(tmp, 'outside');
  await fs.mkdir(outside);
  await fs.writeFile(path.join(outside, 'secret.png'), 'x');
});
afterAll(() => fs.rm(tmp, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------
// Fake engine

interface FakeEngine extends EngineApi {
  disposed: string[];
  loaded: string[];
  stepsPerEpoch: number;
  stepDelayMs: number;
}

function epochMetrics(epoch: number): EpochMetrics {
  return {
    epoch,
    trainLoss: 1 / epoch,
    trainNll: 1 / epoch,
    trainAccuracy: 0.5,
    kl: 0.1,
    lr: 0.001,
    valAccuracy: 0.6,
    valNll: 0.9,
    valEce: 0.05,
    valLoss: 1,
    seconds: 0.01,
    imagesPerSecond: 1000,
  };
}

/** Deterministic "probabilities" from the pixel sum: some confident, some near-uniform, some OOD. */
function fakePredict(meta: ModelMeta, pixels: Uint8Array, count: number) {
  const K = meta.classes.length;
  const per = pixels.length / count;
  return Array.from({ length: count }, (_, i) => {
    let sum = 0;
    for (let j = i * per; j < (i + 1) * per; j++) sum += pixels[j]!;
    const idx = sum % K;
    const confident = sum % 3 !== 0;
    const probabilities = Array.from({ length: K }, (_, k) =>
      confident ? (k === idx ? 0.9 : 0.1 / (K - 1)) : 1 / K,
    );
    const entropy = -probabilities.reduce((a, p) => a + p * Math.log(p), 0);
    return {
      label: meta.classes[idx]!,
      labelIndex: idx,
      confidence: probabilities[idx]!,
      probabilities,
      entropy,
      expectedEntropy: entropy * 0.8,
      mutualInformation: entropy * 0.2,
      ood: sum % 7 === 0,
      scores: { mahalanobis: sum % 100 },
      flag: { score: 'mahalanobis', value: sum % 100, threshold: 50 },
    };
  });
}

function fakeEngine(): FakeEngine {
  const engine: FakeEngine = {
    disposed: [],
    loaded: [],
    stepsPerEpoch: 200,
    stepDelayMs: 0,
    async trainModel(req: EngineTrainRequest): Promise<ModelMeta> {
      const epochs = req.config?.epochs ?? 2;
      const totalSteps = epochs * engine.stepsPerEpoch;
      req.onEvent?.({
        type: 'start',
        totalSteps,
        stepsPerEpoch: engine.stepsPerEpoch,
        backend: 'fake',
        device: 'none',
      });
      const history: EpochMetrics[] = [];
      let meta: ModelMeta | undefined;
      for (let epoch = 1; epoch <= epochs; epoch++) {
        for (let s = 0; s < engine.stepsPerEpoch; s++) {
          if (req.signal?.aborted) {
            req.onEvent?.({ type: 'cancelled', epoch });
            throw Object.assign(new Error('cancelled'), { name: 'AbortError' });
          }
          if (engine.stepDelayMs) await new Promise((r) => setTimeout(r, engine.stepDelayMs));
          const step = (epoch - 1) * engine.stepsPerEpoch + s + 1;
          req.onEvent?.({
            type: 'step',
            epoch,
            step,
            totalSteps,
            loss: 1,
            kl: 0.1,
            lr: 0.001,
            imagesPerSecond: 100,
            etaSeconds: 1,
          });
        }
        history.push(epochMetrics(epoch));
        req.onEvent?.({ type: 'epoch', metrics: epochMetrics(epoch) });
        meta = await writeModelFolder(
          req.outDir,
          {
            ...fakeMeta({ classes: req.classes }),
            // A real run records the epochs it was asked for (model.json checks epoch <= train.epochs).
            train: { ...fakeMeta().train, epochs },
            id: req.id,
            name: req.name ?? req.id,
            createdAt: new Date().toISOString(),
            preprocessing: req.preprocessing,
            datasetRoot: req.datasetRoot,
            heldOut: req.heldOut,
            trainSize: req.train.count,
            history: [...history],
            epoch,
            backend: { name: 'fake', device: 'none' },
          },
          fakeWeights(epoch),
        );
        req.onEvent?.({ type: 'checkpoint', epoch, dir: req.outDir });
      }
      req.onEvent?.({ type: 'done', modelDir: req.outDir });
      return meta!;
    },
    async loadModel(dir: string): Promise<EngineModel> {
      const { meta } = await readModelFolder(dir);
      engine.loaded.push(meta.id);
      return {
        dir,
        meta,
        temperature: 1,
        predictionFactors: async () => {
          throw new Error('the fake engine has no rank-1 factors');
        },
        predict: async (pixels, count) => fakePredict(meta, pixels, count),
        async evaluate(set, opts) {
          const idx = Array.from({ length: set.count }, (_, i) => i);
          const pixels = await set.read(idx);
          const preds = fakePredict(meta, pixels, set.count);
          opts?.onProgress?.(set.count, set.count);
          const items = preds.map((p, i) => ({
            file: set.files[i]!,
            label: set.labels[i]!,
            predicted: p.labelIndex,
            confidence: p.confidence,
            entropy: p.entropy,
            mutualInformation: p.mutualInformation,
          }));
          const acc = items.filter((it) => it.label === it.predicted).length / Math.max(1, items.length);
          const metrics = {
            n: set.count,
            accuracy: acc,
            nll: 1,
            ece: 0.1,
            brier: 0.5,
            perClassAccuracy: [],
            confusion: [],
            reliability: [],
          };
          if (!opts?.ood) return { metrics, items };
          const oodItems = opts.ood.files.map((file) => ({
            file,
            entropy: 1,
            mutualInformation: 0.5,
            ood: true,
          }));
          const ood = {
            n_ood: opts.ood.count,
            auroc_entropy: 0.9,
            auroc_mi: 0.8,
            fpr95_entropy: 0.2,
            fpr95_mi: 0.3,
            ood_flag_rate: 1,
            in_flag_rate: 0.05,
          };
          return { metrics, items, ood, oodItems };
        },
        dispose: () => engine.disposed.push(meta.id),
      };
    },
    currentBackend: () => ({ name: 'fake', device: 'none' }),
    availableBackends: async () => [{ name: 'fake', available: true }],
    initBackend: async () => ({ name: 'fake', device: 'none' }),
  };
  return engine;
}

// ---------------------------------------------------------------------------------------------

let service: Service;
let engine: FakeEngine;
let client: ServiceClient;
let events: ServiceEvent[];

function makeService(opts: { predictBatch?: number } = {}) {
  engine = fakeEngine();
  service = createService({ home, engine, ...opts });
  service.grant(ds);
  client = new ServiceClient(service);
  events = [];
  service.subscribe((e) => events.push(e));
}

afterEach(() => service?.dispose());

async function expectError(p: Promise<unknown>, code: string, field?: string): Promise<ServiceError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ServiceError);
    expect((e as ServiceError).code).toBe(code);
    if (field !== undefined) expect((e as ServiceError).field).toBe(field);
    expect((e as ServiceError).message.length).toBeGreaterThan(5);
    return e as ServiceError;
  }
  throw new Error(`expected a ${code} error`);
}

async function train(args: Record<string, unknown> = {}): Promise<ModelSummary> {
  return client.run<'train'>('train.start', { dataset: ds, name: 'Digits', epochs: 2, ...args });
}

describe('service: validation and bad input', () => {
  it('answers typed errors and keeps working', async () => {
    makeService();
    await expectError(service.call('nope.op', {}), 'unknown-operation');
    await expectError(service.call('x'.repeat(2_000_000), {}), 'unknown-operation');
    await expectError(service.call('models.get', {}), 'bad-request', 'id');
    await expectError(service.call('models.get', { id: 42 }), 'bad-request', 'id');
    await expectError(service.call('models.get', { id: '../../etc' }), 'bad-request', 'id');
    await expectError(service.call('models.get', { id: 'a', extra: 1 }), 'bad-request');
    await expectError(
      service.call('models.rename', { id: 'a', name: 'n'.repeat(1_000_000) }),
      'bad-request',
      'name',
    );
    await expectError(service.call('datasets.scan', { path: 'p'.repeat(1_000_000) }), 'bad-request', 'path');
    await expectError(
      service.call('settings.set', { uncertainFraction: 'high' }),
      'bad-request',
      'uncertainFraction',
    );
    await expectError(service.call('predict', { model: 'a' }), 'bad-request', 'paths');
    await expectError(service.call('models.get', 'not an object'), 'bad-request');
    await expectError(service.call('models.get', null), 'bad-request', 'id');
    await expectError(service.call('predict', { model: 'a', paths: [123] }), 'bad-request', 'paths.0');
    // Paths outside the grants and `..` traversal out of a granted root.
    await expectError(service.call('datasets.scan', { path: outside }), 'forbidden', 'path');
    await expectError(
      service.call('datasets.scan', { path: path.join(ds, '..', 'outside') }),
      'forbidden',
      'path',
    );
    await expectError(
      service.call('datasets.thumbnail', { file: path.join(ds, '..', 'outside', 'secret.png') }),
      'forbidden',
      'file',
    );
    await expectError(service.call('datasets.import', { path: '/etc' }), 'forbidden', 'path');
    await expectError(service.call('train.start', { dataset: outside }), 'forbidden', 'dataset');
    await expectError(
      service.call('models.import', { path: path.join(outside, 'secret.png') }),
      'forbidden',
      'path',
    );
    await expect(service.call('settings.get', {})).resolves.toMatchObject({ theme: 'system' });
  });

  it('reports not-found for unknown models, datasets and jobs', async () => {
    makeService();
    await expectError(service.call('models.get', { id: 'ghost' }), 'not-found');
    await expectError(service.call('predict', { model: 'ghost', paths: [ds] }), 'not-found');
    await expectError(service.call('jobs.cancel', { jobId: 'job-1' }), 'not-found', 'jobId');
    await expectError(service.call('datasets.files', { id: 'ghost' }), 'not-found');
    await expectError(service.call('datasets.remove', { id: 'ghost' }), 'not-found');
  });

  it('a listener that throws does not break the service', async () => {
    makeService();
    service.subscribe(() => {
      throw new Error('window closed');
    });
    const model = await train({ epochs: 1 });
    expect(model.name).toBe('Digits');
  });
});

describe('service: system and settings', () => {
  it('describes the system', async () => {
    makeService();
    const info = (await service.call('system.info', {})) as Awaited<ReturnType<ServiceClient['call']>> &
      Record<string, unknown>;
    expect(info).toMatchObject({
      app: 'Rank-1 Studio',
      dataHome: home,
      backend: { name: 'fake', device: 'none' },
    });
    expect((info as unknown as { versions: Record<string, string> }).versions.node).toBe(
      process.versions.node,
    );
    expect((info as unknown as { versions: Record<string, string> }).versions.app).toMatch(/^\d+\.\d+/);
  });

  it('persists settings', async () => {
    makeService();
    const s = await client.call('settings.set', { theme: 'dark', uncertainFraction: 0.25 });
    expect(s).toMatchObject({ theme: 'dark', uncertainFraction: 0.25 });
    service.dispose();
    makeService();
    expect(await client.call('settings.get', {})).toMatchObject({ theme: 'dark', uncertainFraction: 0.25 });
    await client.call('settings.set', { theme: 'system', uncertainFraction: 0.5 });
  });
});

describe('service: datasets', () => {
  it('scans, imports as a job, lists, pages files and makes thumbnails', async () => {
    makeService();
    const scan = await client.call('datasets.scan', { path: ds });
    expect(scan.classes).toEqual({ '0': PER_CLASS, '1': PER_CLASS, '2': PER_CLASS });
    expect(scan.images).toBe(21);

    const seen: ServiceEvent[] = [];
    const summary = await client.run<'import'>('datasets.import', { path: ds, valFraction: 0.2 }, (e) =>
      seen.push(e),
    );
    expect(summary.images).toBe(21);
    expect(summary.classes).toEqual(CLASSES);
    expect(seen.some((e) => e.type === 'job.progress')).toBe(true);
    expect(seen.at(-1)!.type).toBe('job.done');

    const list = await client.call('datasets.list', {});
    expect(list.map((d) => d.id)).toContain(summary.id);

    const page = await client.call('datasets.files', { id: summary.id, offset: 5, limit: 4 });
    expect(page.total).toBe(21);
    expect(page.files).toHaveLength(4);
    const ones = await client.call('datasets.files', { id: summary.id, className: '1', limit: 100 });
    expect(ones.total).toBe(PER_CLASS);
    expect(ones.files.every((f) => f.className === '1' && f.file.includes(`${path.sep}1${path.sep}`))).toBe(
      true,
    );
    await expectError(
      service.call('datasets.files', { id: summary.id, className: 'cat' }),
      'not-found',
      'className',
    );

    const thumb = await client.call('datasets.thumbnail', { file: page.files[0]!.file, size: 32 });
    expect(thumb.mime).toBe('image/jpeg');
    expect(Buffer.from(thumb.base64, 'base64').subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));

    // A new service (another session, nothing granted) still reaches a listed dataset's files, trains on its id.
    service.dispose();
    engine = fakeEngine();
    service = createService({ home, engine });
    client = new ServiceClient(service);
    await expect(client.call('datasets.thumbnail', { file: page.files[0]!.file })).resolves.toBeTruthy();
    await expectError(
      service.call('datasets.thumbnail', { file: path.join(outside, 'secret.png') }),
      'forbidden',
      'file',
    );
    const model = await client.run<'train'>('train.start', { dataset: summary.id, epochs: 1 });
    expect(model.name).toMatch(/^digits \d{4}-/);
    await client.call('models.remove', { id: model.id });
    await client.call('datasets.remove', { id: summary.id });
    expect((await client.call('datasets.list', {})).map((d) => d.id)).not.toContain(summary.id);
  });
});

describe('service: training and jobs', () => {
  it('trains from a folder path, throttling steps and keeping every epoch', async () => {
    makeService();
    const seen: ServiceEvent[] = [];
    const model = await train({ epochs: 3 }).then(async (m) => m);
    seen.push(...events);
    expect(model.id).toMatch(/^digits-[0-9a-f]{6}$/);
    expect(model.classes).toEqual(CLASSES);
    expect(model.history).toHaveLength(3);
    // The folder it was trained on, for Evaluate's default dataset; in the list and one by one.
    expect(model.datasetRoot).toBe(ds);
    expect((await client.call('models.get', { id: model.id })).datasetRoot).toBe(ds);
    expect((await client.call('models.list', {})).find((m) => m.id === model.id)?.datasetRoot).toBe(ds);
    const progress = seen.filter(
      (e): e is Extract<ServiceEvent, { type: 'job.progress' }> =>
        e.type === 'job.progress' && e.kind === 'train',
    );
    const kinds = progress.map((e) => (e.progress as { type?: string }).type);
    // 600 synchronous steps collapse to a handful of step events; epoch/checkpoint/done always arrive.
    expect(kinds.filter((k) => k === 'step').length).toBeLessThan(20);
    expect(kinds.filter((k) => k === 'epoch')).toHaveLength(3);
    expect(kinds.filter((k) => k === 'checkpoint')).toHaveLength(3);
    expect(kinds).toContain('done');

    const status = await client.call('train.status', {});
    const job = status.find((j) => j.state === 'done')!;
    expect(job.history).toHaveLength(3);
    expect(job.kind).toBe('train');
    expect((await client.call('jobs.list', {})).length).toBeGreaterThanOrEqual(1);

    const models = await client.call('models.list', {});
    expect(models.map((m) => m.id)).toContain(model.id);
    const got = await client.call('models.get', { id: model.id });
    expect(got.name).toBe('Digits');
    expect(JSON.stringify(got)).not.toContain('sha256":"'.repeat(2));
  });

  it('shows a running training to a reopened window and cancels it', async () => {
    makeService();
    engine.stepsPerEpoch = 20;
    engine.stepDelayMs = 5;
    const { jobId } = await client.call('train.start', { dataset: ds, name: 'Slow', epochs: 50 });
    // Wait for the first epoch, then look as a fresh window would.
    await waitFor(() =>
      events.some((e) => e.type === 'job.progress' && (e.progress as { type?: string }).type === 'epoch'),
    );
    const running = (await client.call('train.status', {})).find((j) => j.jobId === jobId)!;
    expect(running.state).toBe('running');
    expect(running.history!.length).toBeGreaterThanOrEqual(1);
    expect(running.last).toBeTruthy();
    // A second training of the same model is refused while this one runs.
    await expect(client.call('jobs.cancel', { jobId })).resolves.toEqual({ cancelled: true });
    await waitFor(() => events.some((e) => e.type === 'job.cancelled' && e.jobId === jobId));
    expect((await client.call('jobs.list', {})).find((j) => j.jobId === jobId)!.state).toBe('cancelled');
    await expect(client.call('jobs.cancel', { jobId })).resolves.toEqual({ cancelled: false });
  });

  it('refuses to remove or rename a model while it trains (resume)', async () => {
    makeService();
    const model = await train({ epochs: 1 });
    engine.stepsPerEpoch = 20;
    engine.stepDelayMs = 5;
    const { jobId } = await client.call('train.start', { dataset: ds, resumeFrom: model.id, epochs: 40 });
    await expectError(service.call('models.remove', { id: model.id }), 'conflict', 'id');
    await expectError(service.call('train.start', { dataset: ds, resumeFrom: model.id }), 'conflict');
    await client.call('jobs.cancel', { jobId });
    await waitFor(() => events.some((e) => e.type === 'job.cancelled' && e.jobId === jobId));
    await expect(client.call('models.remove', { id: model.id })).resolves.toEqual({ removed: model.id });
  });

  it('resumes a checkpoint without naming the dataset: its own folder and backbone, never a new one', async () => {
    makeService();
    const model = await train({ epochs: 1 });
    const requests: EngineTrainRequest[] = [];
    const trainModel = engine.trainModel;
    engine.trainModel = (req) => (requests.push(req), trainModel(req));
    // As the real engine does for photos: no backbone asked for → the default one.
    engine.chooseBackbone = (given) => given ?? 'mobilenet-v1-0.25';
    engine.prepareTransfer = async () => {
      throw new Error('the checkpoint was trained without a backbone: none may be prepared');
    };
    const resumed = await client.run<'train'>('train.start', { resumeFrom: model.id });
    expect(resumed.id).toBe(model.id);
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ resume: true, id: model.id, datasetRoot: ds });
    expect(requests[0]!.backbone).toBeUndefined();
    await expectError(service.call('train.start', {}), 'bad-request', 'dataset');
  });

  it("sends a damaged model file's detail, never the folder it sits in", () => {
    const e = toServiceError(
      new ModelFormatError('/home/u/.rank1/models/x', 'model.json: epoch -1 is below 0'),
    );
    expect(e.message).toBe('model.json: epoch -1 is below 0.');
  });

  it('turns an engine failure into a failed job with the message', async () => {
    makeService();
    engine.trainModel = async () => {
      throw new Error('out of memory on the GPU; try a smaller batch');
    };
    await expect(train()).rejects.toMatchObject({
      code: 'failed',
      message: expect.stringContaining('smaller batch'),
    });
    const failed = (await client.call('jobs.list', {})).find((j) => j.state === 'failed');
    expect(failed).toBeTruthy();
  });
});

async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('service: prediction', () => {
  it('streams one item per image as batches finish, with errors and dropped files', async () => {
    makeService({ predictBatch: 4 });
    const model = await train({ epochs: 1 });
    const extra = path.join(tmp, 'predict-in');
    await fs.mkdir(path.join(extra, 'nested'), { recursive: true });
    await fs.copyFile(
      path.join(ds, '0', (await fs.readdir(path.join(ds, '0')))[0]!),
      path.join(extra, 'nested', 'a.png'),
    );
    await fs.writeFile(path.join(extra, 'broken.png'), Buffer.from('89504e470d0a1a0a0000', 'hex'));
    await fs.writeFile(path.join(extra, 'notes.txt'), 'not an image');
    service.grant(extra);
    const png = await fs.readFile(path.join(extra, 'nested', 'a.png'));
    // Record how many items had been streamed each time the model is asked for a batch.
    const itemsAtPredict: number[] = [];
    const load = engine.loadModel.bind(engine);
    engine.loadModel = async (dir) => {
      const m = await load(dir);
      return {
        ...m,
        predict: (px, n, o) => {
          itemsAtPredict.push(events.filter((e) => e.type === 'job.item').length);
          return m.predict(px, n, o);
        },
      };
    };
    events = [];
    const result = await client.run<'predict'>('predict', {
      model: model.id,
      paths: [ds, extra],
      files: [
        { name: 'dropped.png', base64: png.toString('base64') },
        { name: 'junk.png', base64: 'AAAA' },
      ],
      thumbnails: true,
    });
    expect(result.count).toBe(21 + 2 + 2);
    expect(result.errors).toBe(2);
    const items = events
      .filter((e): e is Extract<ServiceEvent, { type: 'job.item' }> => e.type === 'job.item')
      .map((e) => e.item);
    expect(items).toHaveLength(25);
    // Streaming: the first item arrives before the last batch's progress.
    const firstItem = events.findIndex((e) => e.type === 'job.item');
    const progresses = events.map((e, i) => (e.type === 'job.progress' ? i : -1)).filter((i) => i >= 0);
    expect(firstItem).toBeLessThan(progresses.at(-1)!);
    expect(itemsAtPredict.length).toBeGreaterThanOrEqual(6); // 7 batches; one may be all errors
    expect(itemsAtPredict[0]).toBe(0);
    expect(itemsAtPredict.at(-1)).toBeGreaterThanOrEqual(20);

    const broken = items.find((r) => r.name === 'broken.png')!;
    expect(broken.error).toBeTruthy();
    expect(items.find((r) => r.name === 'junk.png')!).toMatchObject({
      dropped: true,
      error: expect.any(String),
    });
    const dropped = items.find((r) => r.name === 'dropped.png')!;
    const fromDisk = items.find((r) => r.file === path.join(extra, 'nested', 'a.png'))!;
    expect(dropped.probabilities).toEqual(fromDisk.probabilities);
    expect(dropped.dropped).toBe(true);
    const ok = items.filter((r) => !r.error);
    for (const r of ok) {
      expect(r.uncertain).toBe(r.entropy! > 0.5 * Math.log(3));
      expect(Object.keys(r.probs!)).toEqual(CLASSES);
    }
    expect(ok.some((r) => r.uncertain)).toBe(true);
    expect(ok.some((r) => !r.uncertain)).toBe(true);
    expect(fromDisk.thumbnail).toMatch(/^data:image\/jpeg;base64,/);
    expect(items.some((r) => r.name === 'notes.txt')).toBe(false);
    expect(result.flagged).toBe(ok.filter((r) => r.ood || r.uncertain).length);

    // CSV
    const { csv } = await client.call('predictions.csv', {
      rows: [...items, { file: '=cmd|calc', name: '+evil' }],
    });
    const parsed = Papa.parse<Record<string, string>>(csv, { header: true });
    expect(parsed.meta.fields).toEqual([
      'file',
      'name',
      'label',
      'confidence',
      'entropy',
      'expected_entropy',
      'mutual_information',
      'ood',
      'uncertain',
      'flag_score',
      'flag_value',
      'flag_threshold',
      'error',
      'p_0',
      'p_1',
      'p_2',
    ]);
    expect(parsed.data).toHaveLength(26);
    expect(parsed.data[0]!.flag_score).toBe('mahalanobis');
    expect(parsed.data.at(-1)!.file.startsWith("'=")).toBe(true);
    expect(parsed.data.at(-1)!.name.startsWith("'+")).toBe(true);

    // Copy into folders; never overwrite.
    const dest = path.join(tmp, 'sorted');
    await fs.mkdir(dest);
    await expectError(service.call('predictions.copy', { rows: items, dest }), 'forbidden', 'dest');
    service.grant(dest);
    const copy = await client.call('predictions.copy', { rows: items, dest });
    const expected = ok.filter((r) => !r.dropped).length;
    expect(copy.copied).toBe(expected);
    const oodCount = ok.filter((r) => !r.dropped && r.ood).length;
    if (oodCount) expect(copy.folders._ood).toBe(oodCount);
    const unc = ok.filter((r) => !r.dropped && !r.ood && r.uncertain).length;
    if (unc) expect(copy.folders._uncertain).toBe(unc);
    expect(copy.skipped!.length).toBe(items.length - expected);
    const again = await client.call('predictions.copy', { rows: items, dest });
    expect(again.copied).toBe(expected);
    const folder = Object.keys(copy.folders)[0]!;
    const names = await fs.readdir(path.join(dest, folder));
    expect(names.length).toBe(2 * copy.folders[folder]!);
    expect(names.some((n) => / \(1\)\.png$/.test(n))).toBe(true);
    // The app's own data folder is never a destination (it is granted, but not the user's).
    await expectError(
      service.call('predictions.copy', { rows: items, dest: path.join(home, 'models') }),
      'bad-request',
      'dest',
    );
    // A row pointing outside the grants refuses the whole copy.
    await expectError(
      service.call('predictions.copy', {
        rows: [{ file: path.join(outside, 'secret.png'), name: 's', label: '0' }],
        dest,
      }),
      'forbidden',
      'rows.0.file',
    );
    await expectError(
      service.call('predictions.copy', {
        rows: [{ file: path.join(ds, '..', 'outside', 'secret.png'), name: 's', label: '0' }],
        dest,
      }),
      'forbidden',
    );
    // A label cannot escape dest.
    const sneaky = await client.call('predictions.copy', {
      rows: [{ ...ok.find((r) => !r.dropped && !r.ood && !r.uncertain)!, label: '../../x' }],
      dest,
    });
    expect(Object.keys(sneaky.folders)).toEqual(['.._.._x']);
  });

  it('refuses paths outside grants and cancels a long prediction', async () => {
    makeService({ predictBatch: 2 });
    const model = await train({ epochs: 1 });
    await expectError(
      service.call('predict', { model: model.id, paths: [ds, outside] }),
      'forbidden',
      'paths.1',
    );
    const slow = await engine.loadModel(path.join(home, 'models', model.id));
    engine.loadModel = async () => ({
      ...slow,
      predict: async (px, n) => {
        await new Promise((r) => setTimeout(r, 30));
        return slow.predict(px, n);
      },
    });
    service.dispose();
    const e2 = engine;
    service = createService({ home, engine: e2, predictBatch: 2 });
    service.grant(ds);
    client = new ServiceClient(service);
    const seen: ServiceEvent[] = [];
    service.subscribe((e) => seen.push(e));
    const { jobId } = await client.call('predict', { model: model.id, paths: [ds] });
    await waitFor(() => seen.some((e) => e.type === 'job.item'));
    await client.call('jobs.cancel', { jobId });
    await waitFor(() => seen.some((e) => e.type === 'job.cancelled'));
    expect(seen.filter((e) => e.type === 'job.item').length).toBeLessThan(21);
  });

  it('keeps at most two loaded models and frees a removed one', async () => {
    makeService();
    const ids: string[] = [];
    for (const n of ['A', 'B', 'C']) ids.push((await train({ epochs: 1, name: n })).id);
    const one = path.join(ds, '0');
    for (const id of ids) await client.run('predict', { model: id, paths: [one] });
    await new Promise((r) => setTimeout(r, 10));
    expect(engine.loaded).toEqual(ids);
    expect(engine.disposed).toEqual([ids[0]]);
    await client.run('predict', { model: ids[2]!, paths: [one] });
    expect(engine.loaded).toHaveLength(3); // cache hit
    await client.call('models.remove', { id: ids[2]! });
    await new Promise((r) => setTimeout(r, 10));
    expect(engine.disposed).toEqual([ids[0], ids[2]]);
  });
});

describe('service: models', () => {
  it('renames, exports, imports and removes', async () => {
    makeService();
    const model = await train({ epochs: 1 });
    expect((await client.call('models.rename', { id: model.id, name: 'Renamed' })).name).toBe('Renamed');

    const inline = await client.call('models.export', { id: model.id });
    expect(inline.fileName).toBe('renamed.rank1.zip');
    const fromDrop = await client.call('models.import', {
      file: { name: inline.fileName, base64: inline.base64! },
    });
    expect(fromDrop.id).not.toBe(model.id);
    expect(fromDrop.name).toBe('Renamed');

    const outDir = path.join(tmp, 'exports');
    await fs.mkdir(outDir);
    await expectError(service.call('models.export', { id: model.id, dest: outDir }), 'forbidden', 'dest');
    service.grant(outDir);
    const written = await client.call('models.export', { id: model.id, dest: outDir });
    expect(written.path).toBe(path.join(outDir, 'renamed.rank1.zip'));
    const fromPath = await client.call('models.import', { path: written.path! });
    expect(new Set([model.id, fromDrop.id, fromPath.id]).size).toBe(3);

    await expectError(
      service.call('models.import', {
        file: { name: 'x.zip', base64: Buffer.from('nope').toString('base64') },
      }),
      'failed',
    );
    await expectError(service.call('models.import', {}), 'bad-request', 'path');

    for (const id of [fromDrop.id, fromPath.id]) await client.call('models.remove', { id });
    await expectError(service.call('models.remove', { id: fromDrop.id }), 'not-found');
    expect((await client.call('models.list', {})).map((m) => m.id)).toContain(model.id);
  });

  it('names the model and what to do when it is damaged or too new', async () => {
    makeService();
    const good = await train({ epochs: 1, name: 'Good' });
    // Tampered weights.
    const bad = await train({ epochs: 1, name: 'Bad' });
    const wfile = path.join(home, 'models', bad.id, 'weights.bin');
    const w = await fs.readFile(wfile);
    w[0] = w[0]! ^ 0xff;
    await fs.writeFile(wfile, w);
    const err = await client.run('predict', { model: bad.id, paths: [ds] }).catch((e: ServiceError) => e);
    expect(err).toMatchObject({ code: 'failed' });
    expect((err as ServiceError).message).toContain(bad.id);
    expect((err as ServiceError).message).toMatch(/SHA-256.*train it again|import it again/);
    await expectError(service.call('models.export', { id: bad.id }), 'failed');
    // Truncated.
    await fs.writeFile(wfile, w.subarray(0, 8));
    const err2 = await client.run('predict', { model: bad.id, paths: [ds] }).catch((e: ServiceError) => e);
    expect((err2 as ServiceError).message).toMatch(/truncated/);
    // Newer format.
    const newer = await train({ epochs: 1, name: 'Newer' });
    const mfile = path.join(home, 'models', newer.id, 'model.json');
    const meta = JSON.parse(await fs.readFile(mfile, 'utf8'));
    meta.formatVersion = MODEL_FORMAT_VERSION + 1;
    await fs.writeFile(mfile, JSON.stringify(meta));
    const err3 = await expectError(service.call('models.get', { id: newer.id }), 'failed');
    expect(err3.message).toMatch(/Update Rank-1 Studio/);
    // A broken folder does not break the list.
    await fs.mkdir(path.join(home, 'models', 'empty-folder'));
    const ids = (await client.call('models.list', {})).map((m) => m.id);
    expect(ids).toContain(good.id);
    expect(ids).not.toContain(newer.id);
    expect(ids).not.toContain('empty-folder');
    for (const id of [bad.id, newer.id]) await client.call('models.remove', { id });
    await fs.rm(path.join(home, 'models', 'empty-folder'), { recursive: true });
  });
});

describe('service: evaluation', () => {
  it("evaluates the model's held-out files by default, everything on request, with OOD", async () => {
    makeService();
    const model = await train({ epochs: 1, valFraction: 0.3 });
    const meta = (await readModelFolder(path.join(home, 'models', model.id))).meta;
    const held = meta.heldOut!.val.length + meta.heldOut!.test.length;
    expect(held).toBeGreaterThan(0);
    const auto = await client.run<'evaluate'>('evaluate', { model: model.id, dataset: ds });
    expect(auto.split).toBe('held-out validation');
    expect(auto.items).toHaveLength(held);
    expect(auto.metrics.n).toBe(held);

    const all = await client.run<'evaluate'>('evaluate', { model: model.id, dataset: ds, split: 'all' });
    expect(all.items).toHaveLength(21);

    // OOD: a flat folder of images (not class folders).
    const ood = path.join(tmp, 'ood');
    await fs.mkdir(ood, { recursive: true });
    const nines = (await fs.readdir(path.join(MNIST, '9'))).slice(0, 3);
    for (const f of nines) await fs.copyFile(path.join(MNIST, '9', f), path.join(ood, f));
    await expectError(service.call('evaluate', { model: model.id, dataset: ds, ood }), 'forbidden', 'ood');
    service.grant(ood);
    const withOod = await client.run<'evaluate'>('evaluate', {
      model: model.id,
      dataset: ds,
      ood,
      split: 'all',
    });
    expect(withOod.ood!.n_ood).toBe(3);
    expect(withOod.oodItems).toHaveLength(3);
  });
});

// ---------------------------------------------------------------------------------------------
// The real engine (the lead removes this guard once the engine is complete)

const engineReady =
  existsSync(new URL('../src-main/engine/train.ts', import.meta.url)) &&
  existsSync(new URL('../src-main/engine/predict.ts', import.meta.url));
if (!engineReady)
  console.warn(
    'service.test: skipping the real-engine test: src-main/engine/train.ts or predict.ts does not exist yet',
  );

describe('service: real engine', () => {
  it.skipIf(!engineReady)(
    'trains a tiny model and predicts with the real engine and data',
    { timeout: 300_000 },
    async () => {
      const real = createService({ home: path.join(tmp, 'real-home') });
      process.env.RANK1_HOME = path.join(tmp, 'real-home');
      try {
        real.grant(ds);
        const c = new ServiceClient(real);
        await c.call('settings.set', { backend: 'cpu' });
        const model = await c.run<'train'>('train.start', {
          dataset: ds,
          name: 'Real',
          preset: 'quick',
          epochs: 1,
          arch: 'mlp',
          members: 2,
          batchSize: 8,
        });
        expect(model.classes).toEqual(CLASSES);
        const rows: PredictionRow[] = [];
        const res = await c.run<'predict'>(
          'predict',
          { model: model.id, paths: [path.join(ds, '1')] },
          (e) => {
            if (e.type === 'job.item') rows.push(e.item);
          },
        );
        expect(res.count).toBe(PER_CLASS);
        expect(rows.every((r) => !r.error && CLASSES.includes(r.label!))).toBe(true);
      } finally {
        real.dispose();
        process.env.RANK1_HOME = home;
      }
    },
  );
});
