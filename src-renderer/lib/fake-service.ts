/**
 * An in-memory service for component tests and `?fake` dev mode: answers every operation with
 * plausible data and streams job events on timers. Never bundled into a production build.
 */
import {
  defaultSettings,
  listeners,
  parseArgs,
  ServiceError,
  type DatasetSummary,
  type EpochMetrics,
  type EvaluateResult,
  type ImportProgress,
  type JobInfo,
  type JobKind,
  type JobResults,
  type JobStarted,
  type ModelSummary,
  type OperationHandlers,
  type PredictionRow,
  type ServiceEvent,
  type ServiceHandler,
  type Settings,
} from '../../src-main/contract.js';

import { DIGITS, TINY_SVG, demoModel, demoRows, rng } from './fake-data.js';

export { demoModel, demoRows, rng };

export interface FakeOptions {
  /** Delay between streamed events; 0 = next macrotask. */
  stepMs?: number;
  /** Make these operations fail with this error. */
  fail?: Partial<Record<string, ServiceError>>;
  /** Jobs already running when the window opens (reload test). */
  running?: JobInfo[];
  /**
   * What evaluate, compare and predict (given paths) results say they left out (unknown classes:
   * evaluate only).
   */
  leftOut?: Pick<EvaluateResult, 'skipped' | 'unknownClasses'>;
}

export class FakeService implements ServiceHandler {
  // A listener that throws fails the test at once (no logging in the fake).
  listeners = listeners<ServiceEvent>((err) => {
    throw err;
  });
  calls: { op: string; args: unknown }[] = [];
  models: ModelSummary[] = [demoModel()];
  datasets: DatasetSummary[] = [];
  settings: Settings = { ...defaultSettings };
  jobs = new Map<string, JobInfo & { cancel?: () => void }>();
  private seq = 0;
  private backbones: { name: string; description: string; imported: boolean }[] = [];

  constructor(private opts: FakeOptions = {}) {
    for (const j of opts.running ?? []) this.jobs.set(j.jobId, j);
  }

  subscribe(listener: (e: ServiceEvent) => void): () => void {
    return this.listeners.add(listener);
  }

  emit(e: ServiceEvent): void {
    this.listeners.emit(e);
  }

  private tick(): Promise<void> {
    return new Promise((r) => setTimeout(r, this.opts.stepMs ?? 0));
  }

  private job<K extends JobKind>(
    kind: K,
    title: string,
    body: (jobId: string, cancelled: () => boolean) => Promise<JobResults[K]>,
  ): JobStarted {
    const jobId = `job-${++this.seq}`;
    let stop = false;
    const info: JobInfo & { cancel?: () => void } = {
      jobId,
      kind,
      state: 'running',
      startedAt: new Date().toISOString(),
      title,
    };
    info.cancel = () => (stop = true);
    this.jobs.set(jobId, info);
    void (async () => {
      await this.tick();
      this.emit({
        type: 'job.started',
        job: { jobId, kind, state: 'running', startedAt: info.startedAt, title },
      });
      try {
        const result = await body(jobId, () => stop);
        if (stop) {
          info.state = 'cancelled';
          this.emit({ type: 'job.cancelled', jobId, kind });
        } else {
          info.state = 'done';
          this.emit({ type: 'job.done', jobId, kind, result });
        }
      } catch (err) {
        info.state = 'failed';
        const e = err instanceof ServiceError ? err : new ServiceError('failed', String(err));
        this.emit({ type: 'job.failed', jobId, kind, error: e.toJSON() });
      }
    })();
    return { jobId };
  }

  /** Results are copied, as any real transport would (serialised), so no state is shared by reference. */
  async call(op: string, rawArgs: unknown): Promise<unknown> {
    this.calls.push({ op, args: rawArgs });
    const failure = this.opts.fail?.[op];
    if (failure) throw failure;
    const parsed = parseArgs(op, rawArgs);
    const handler = this.handlers[parsed.op] as (a: unknown) => Promise<unknown>;
    const r = await handler(parsed.args);
    return r === undefined ? r : structuredClone(r);
  }

  private model(id: string): ModelSummary {
    const m = this.models.find((x) => x.id === id);
    if (!m) throw new ServiceError('not-found', `No model "${id}".`);
    return m;
  }

  /** Every operation, typed exactly as the contract's results (the real service implements the same table). */
  private readonly handlers: OperationHandlers = {
    'system.info': async () => ({
      app: '0.1.0-fake',
      versions: { node: '20' },
      backend: { name: 'wasm', device: 'CPU' },
      backends: [{ name: 'wasm', available: true }],
      dataHome: '/fake',
      platform: 'fake',
    }),
    'settings.get': async () => this.settings,
    'settings.set': async (patch) => (this.settings = { ...this.settings, ...patch }),
    'datasets.scan': async ({ path }) => {
      if (path.includes('missing'))
        throw new ServiceError('not-found', `No folder at ${path}. Check the path and try again.`);
      return {
        root: path,
        classes: Object.fromEntries(DIGITS.map((d, i) => [d, 280 + i * 4])),
        givenSplits: false,
        images: 3180,
        skipped: [{ file: `${path}/notes.txt`, reason: 'not an image' }],
      };
    },
    'datasets.import': async (args) =>
      this.job('import', `Import ${args.path}`, async (jobId, stopped) => {
        const total = 3180;
        for (let done = 0; done <= total && !stopped(); done += 530) {
          const progress: ImportProgress = {
            phase: 'decode',
            scanned: total,
            decoded: done,
            cached: 0,
            skipped: 0,
            total,
            imagesPerSecond: 1000,
            etaSeconds: (total - done) / 1000,
          };
          this.emit({ type: 'job.progress', jobId, kind: 'import', progress });
          await this.tick();
        }
        const perClass = Object.fromEntries(DIGITS.map((d) => [d, total / 10]));
        const ds: DatasetSummary = {
          id: `ds-${this.seq}`,
          root: args.path,
          images: total,
          classes: DIGITS,
          preprocessing: {
            size: args.imageSize ?? 28,
            channels: 1,
            fit: args.fit ?? 'cover',
            background: { r: 255, g: 255, b: 255 },
          },
          importedAt: new Date().toISOString(),
          report: {
            classes: perClass,
            splits: { train: perClass, val: {}, test: {} },
            // As the data room: a copy within one class is left out and listed (seen = images + skipped).
            skipped: [
              {
                file: `${args.path}/3/x copy.png`,
                reason: 'duplicate',
                message: 'the same bytes as 3/x.png',
                duplicateOf: `${args.path}/3/x.png`,
              },
            ],
            // One image filed under two labels (a conflict) and one copied within a class (harmless).
            duplicates: [
              { hash: 'a1', files: [`${args.path}/1/dup.png`, `${args.path}/7/dup.png`], crossClass: true },
              { hash: 'b2', files: [`${args.path}/3/x.png`, `${args.path}/3/x copy.png`], crossClass: false },
            ],
            warnings: [],
            seen: total + 1,
            images: total,
            seconds: 3.2,
            imagesPerSecond: 1000,
            givenSplits: false,
            decoded: total,
            cached: 0,
          },
        };
        this.datasets.push(ds);
        return ds;
      }),
    'datasets.list': async () => this.datasets,
    'datasets.remove': async ({ id }) => {
      this.datasets = this.datasets.filter((d) => d.id !== id);
      return { removed: id };
    },
    'datasets.files': async (args) => {
      const total = args.className ? 300 : 3000;
      const offset = args.offset ?? 0;
      const n = Math.max(0, Math.min(args.limit ?? 100, total - offset));
      return {
        total,
        files: Array.from({ length: n }, (_, i) => {
          const c = args.className ?? DIGITS[(offset + i) % 10]!;
          return { file: `/data/${c}/${offset + i}.png`, className: c, split: 'train' };
        }),
      };
    },
    'datasets.thumbnail': async ({ file }) => ({ mime: 'image/svg+xml', base64: TINY_SVG(file.length * 17) }),
    'train.start': async (args) =>
      this.job('train', `Train on ${args.dataset}`, async (jobId, stopped) => {
        const epochs = args.epochs ?? 3;
        const stepsPerEpoch = 4;
        const totalSteps = epochs * stepsPerEpoch;
        this.emit({
          type: 'job.progress',
          jobId,
          kind: 'train',
          progress: { type: 'start', totalSteps, stepsPerEpoch, backend: 'wasm', device: 'CPU' },
        });
        const history: EpochMetrics[] = [];
        for (let epoch = 1; epoch <= epochs && !stopped(); epoch++) {
          for (let s = 1; s <= stepsPerEpoch; s++) {
            const step = (epoch - 1) * stepsPerEpoch + s;
            this.emit({
              type: 'job.progress',
              jobId,
              kind: 'train',
              progress: {
                type: 'step',
                epoch,
                step,
                totalSteps,
                loss: 2 / step,
                kl: 0.1,
                lr: 0.05,
                imagesPerSecond: 900,
                etaSeconds: (totalSteps - step) * 0.5,
              },
            });
            await this.tick();
          }
          const m: EpochMetrics = {
            epoch,
            trainLoss: 2 / epoch,
            trainNll: 1.8 / epoch,
            trainAccuracy: 1 - 0.5 / epoch,
            kl: 0.1 / epoch,
            lr: 0.05,
            valAccuracy: 1 - 0.6 / epoch,
            valNll: 1.9 / epoch,
            valEce: 0.1 / epoch,
            valLoss: 2.1 / epoch,
            seconds: 1,
            imagesPerSecond: 900,
          };
          history.push(m);
          this.emit({ type: 'job.progress', jobId, kind: 'train', progress: { type: 'epoch', metrics: m } });
        }
        const model = demoModel({
          id: `model-${this.seq}`,
          name: args.name ?? 'digits',
          demo: false,
          createdAt: new Date().toISOString(),
          history,
          // As the service reports it: the folder trained on (Evaluate's default dataset).
          ...(args.dataset
            ? { datasetRoot: this.datasets.find((d) => d.id === args.dataset)?.root ?? args.dataset }
            : {}),
        });
        if (!stopped()) this.models.push(model);
        return model;
      }),
    'train.status': async () => this.running('train'),
    'jobs.list': async () => this.running(),
    'jobs.cancel': async ({ jobId }) => {
      const j = this.jobs.get(jobId);
      j?.cancel?.();
      return { cancelled: !!j };
    },
    'models.list': async () => this.models,
    'models.get': async ({ id }) => this.model(id),
    'models.rename': async ({ id, name }) => {
      const m = this.model(id);
      m.name = name;
      return m;
    },
    'models.setFlag': async ({ id, score }) => {
      const m = this.model(id);
      if (m.ood) m.ood = { ...m.ood, score };
      return m;
    },
    'models.remove': async ({ id }) => {
      this.models = this.models.filter((x) => x.id !== id);
      return { removed: id };
    },
    'models.export': async ({ id, format }) =>
      format === 'onnx'
        ? { fileName: `${id}.onnx`, base64: btoa('onnx') }
        : { fileName: `${id}.rank1.zip`, base64: btoa('zip') },
    'models.import': async () => {
      const m = demoModel({
        id: `imported-${++this.seq}`,
        name: 'Imported model',
        demo: false,
        createdAt: new Date().toISOString(),
      });
      this.models.push(m);
      return m;
    },
    'backbones.import': async ({ path }) => {
      const b = { name: `imported-${'0'.repeat(11)}${++this.seq % 10}`, description: path, imported: true };
      this.backbones.push(b);
      return b;
    },
    'uploads.begin': async ({ name }) => ({ uploadId: `u${++this.seq}`, folder: `/uploads/${name}` }),
    'uploads.chunk': async ({ path, offset, base64 }) => ({ path, bytes: offset + atob(base64).length }),
    'uploads.finish': async () => ({ folder: '/uploads/x', files: 0, bytes: 0 }),
    'backbones.list': async () => [
      { name: 'mobilenet-v1-0.25', description: 'MobileNet v1 0.25 (shipped with the app)', imported: false },
      ...this.backbones,
    ],
    'compare.start': async (args) =>
      this.job('compare', `Compare ${args.methods.join(', ')}`, async (jobId, stopped) => {
        const methods = args.methods.length;
        const rows = [];
        for (const [index, method] of args.methods.entries()) {
          if (stopped()) break;
          const progress = { method, index, methods, stage: 'train' as const, done: index, total: methods };
          this.emit({ type: 'job.progress', jobId, kind: 'compare', progress });
          await this.tick();
          const { metrics } = this.evaluation('fake', false);
          rows.push({
            method,
            accuracy: metrics.accuracy - 0.01 * index,
            nll: metrics.nll + 0.02 * index,
            ece: metrics.ece,
            brier: metrics.brier,
            auroc_flag: args.ood ? 0.95 : null,
            auroc_entropy: args.ood ? 0.8 : null,
            parameters: 100_000 * (index + 1),
            train_seconds: 10 * (index + 1),
            predict_images_per_s: 500,
            reliability: metrics.reliability,
          });
        }
        return {
          dataset: args.dataset,
          split: 'test',
          n: 600,
          n_ood: args.ood ? 300 : null,
          folder: '/fake',
          rows,
          ...(this.opts.leftOut?.skipped ? { skipped: this.opts.leftOut.skipped } : {}),
        };
      }),
    evaluate: async (args) =>
      this.job('evaluate', `Evaluate ${args.model}`, async (jobId) => {
        this.emit({ type: 'job.progress', jobId, kind: 'evaluate', progress: { done: 0, total: 300 } });
        await this.tick();
        return { ...this.evaluation(args.model, !!args.ood), ...this.opts.leftOut };
      }),
    predict: async (args) => {
      const names: string[] = [...(args.paths ?? []), ...(args.files ?? []).map((f) => f.name)];
      const expanded = names.flatMap((n) =>
        /\.\w+$/.test(n) ? [n] : Array.from({ length: 40 }, (_, i) => `${n}/${i}.png`),
      );
      return this.job('predict', `Predict ${expanded.length} image(s)`, async (jobId, stopped) => {
        const rows = demoRows(expanded.length, DIGITS, expanded.length);
        let flagged = 0;
        for (let i = 0; i < rows.length && !stopped(); i++) {
          const name = expanded[i]!.split('/').pop()!;
          const dropped = i >= (args.paths?.length ?? 0) && !!args.files?.length;
          // As the real service: dropped bytes are marked, thumbnails only when asked for.
          const { thumbnail, ...rest } = rows[i]!;
          const row: PredictionRow = {
            ...rest,
            file: expanded[i]!,
            name,
            ...(dropped ? { dropped: true } : {}),
            ...(args.thumbnails ? { thumbnail } : {}),
          };
          if (/[A-J]/.test(name[0] ?? ''))
            Object.assign(row, {
              ood: true,
              flag: { score: 'mutualInformation', value: 0.9, threshold: 0.4 },
            });
          if (row.ood) flagged++;
          this.emit({ type: 'job.item', jobId, kind: 'predict', item: row });
          this.emit({
            type: 'job.progress',
            jobId,
            kind: 'predict',
            progress: { done: i + 1, total: rows.length },
          });
          if (i % 10 === 9) await this.tick();
        }
        const skipped = args.paths?.length ? this.opts.leftOut?.skipped : undefined;
        return { count: rows.length, errors: 0, flagged, ...(skipped ? { skipped } : {}) };
      });
    },
    'predictions.csv': async ({ rows }) => {
      const head = 'file,name,label,confidence,entropy,mutualInformation,ood';
      const lines = rows.map((r) =>
        [r.file, r.name, r.label, r.confidence, r.entropy, r.mutualInformation, r.ood].join(','),
      );
      return { csv: [head, ...lines].join('\n') + '\n' };
    },
    'predictions.copy': async ({ rows, dest }) => {
      const folders: Record<string, number> = {};
      for (const r of rows) {
        const k = r.ood ? '_ood' : r.uncertain ? '_uncertain' : (r.label ?? '_unknown');
        folders[k] = (folders[k] ?? 0) + 1;
      }
      return { dest, copied: rows.length, folders };
    },
  };

  private running(kind?: JobKind): JobInfo[] {
    return [...this.jobs.values()]
      .filter((j) => j.state === 'running' && (!kind || j.kind === kind))
      .map(({ cancel: _c, ...j }) => j);
  }

  evaluation(model: string, withOod: boolean): EvaluateResult {
    const r = rng(3);
    const items = Array.from({ length: 300 }, (_, i) => {
      const label = i % 10;
      const confidence = 0.4 + 0.6 * r();
      const predicted = r() < confidence ? label : (label + 1 + Math.floor(r() * 9)) % 10;
      const entropy = (1 - confidence) * 2 * r() + 0.02;
      return {
        file: `/data/${label}/${i}.png`,
        label,
        predicted,
        confidence,
        entropy,
        mutualInformation: entropy * 0.3 * r(),
      };
    });
    const confusion = DIGITS.map((_, a) =>
      DIGITS.map((_, p) => items.filter((i) => i.label === a && i.predicted === p).length),
    );
    const reliability = Array.from({ length: 10 }, (_, b) => {
      const inBin = items.filter((i) => i.confidence >= b / 10 && i.confidence < (b + 1) / 10);
      return {
        lower: b / 10,
        upper: (b + 1) / 10,
        count: inBin.length,
        accuracy: inBin.length ? inBin.filter((i) => i.label === i.predicted).length / inBin.length : 0,
        confidence: inBin.length ? inBin.reduce((s, i) => s + i.confidence, 0) / inBin.length : 0,
      };
    });
    const accuracy = items.filter((i) => i.label === i.predicted).length / items.length;
    const oodItems = withOod
      ? Array.from({ length: 200 }, (_, i) => {
          const entropy = 1 + 1.3 * r();
          return {
            file: `/ood/${i}.png`,
            entropy,
            mutualInformation: entropy * (0.2 + 0.3 * r()),
            ood: r() < 0.8,
          };
        })
      : undefined;
    return {
      model,
      split: 'val',
      metrics: {
        n: items.length,
        accuracy,
        nll: 0.45,
        ece: 0.031,
        brier: 0.2,
        perClassAccuracy: DIGITS.map(() => accuracy),
        confusion,
        reliability,
        // Calibrated at T = 1.4: before it the same bins were more confident (issue 16.1).
        temperature: 1.4,
        nll_uncalibrated: 0.52,
        ece_uncalibrated: 0.058,
        reliability_uncalibrated: reliability.map((b) => ({
          ...b,
          confidence: Math.min(1, b.confidence * 1.1),
        })),
      },
      items,
      ...(oodItems
        ? {
            oodItems,
            ood: {
              n_ood: 200,
              auroc_entropy: 0.93,
              auroc_mi: 0.95,
              fpr95_entropy: 0.3,
              fpr95_mi: 0.22,
              ood_flag_rate: 0.8,
              in_flag_rate: 0.05,
            },
          }
        : {}),
    };
  }
}
