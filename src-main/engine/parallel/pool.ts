/**
 * A pool of worker threads, each with its own TensorFlow.js backend and a replica of one model.
 * The main thread keeps the real model and optimizer; workers compute gradients and forward
 * passes on slices of the batch. Weights go to a worker only when they changed since it last
 * saw them.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Rank1Model } from '../models/index.js';
import type { PredictionFactors } from '../models/prediction-factors.js';
import type { BackendName, ModelConfig } from '../types.js';
import type {
  Chunk,
  ForwardChunkResult,
  Request,
  Response,
  TrainChunkResult,
  Weights,
  WorkerInit,
} from './protocol.js';

/**
 * The compiled worker beside this file; from sources (vitest, tsx) the .ts file, loaded through a
 * small eval'd bootstrap that registers tsx's loader in the worker first (tsx is a dev dependency).
 */
function spawn(init: WorkerInit): Worker {
  const js = new URL('./worker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return new Worker(js, { workerData: init });
  // tsx/esm/api's ESM build (require.resolve gives the .cjs one, whose register() fails in a worker).
  const tsx = pathToFileURL(
    createRequire(import.meta.url)
      .resolve('tsx/esm/api')
      .replace(/\.cjs$/, '.mjs'),
  ).href;
  const entry = new URL('./worker.ts', import.meta.url).href;
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData: init });
}

type Pending = { resolve: (r: Response) => void; reject: (e: Error) => void };

class Replica {
  readonly ready: Promise<void>;
  private readonly pending = new Map<number, Pending>();
  private failed?: Error;
  /** Version of the weights this worker holds; −1 when unknown. */
  version = -1;

  constructor(readonly worker: Worker) {
    this.ready = new Promise((resolve, reject) => {
      worker.once('message', (m: Response) =>
        m.type === 'ready' ? resolve() : reject(new Error(`worker: unexpected ${m.type}`)),
      );
      worker.once('error', reject);
    });
    worker.on('message', (m: Response) => {
      if (m.type === 'ready') return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.type === 'error') p.reject(Object.assign(new Error(`worker: ${m.message}`), { stack: m.stack }));
      else p.resolve(m);
    });
    const fail = (e: Error) => {
      this.failed = e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`worker exited (code ${code})`)));
  }

  request(req: Request, transfer: ArrayBuffer[] = []): Promise<Response> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.pending.set(req.id, { resolve, reject });
      this.worker.postMessage(req, transfer);
    });
  }
}

export interface PoolOptions {
  workers: number;
  backend?: BackendName;
}

export class WorkerPool {
  private nextId = 1;
  private weights?: Weights;
  private source?: Rank1Model;
  private dirty = true;
  private closed = false;
  /** Live tensors in each worker after the last training request (−1: not reported). */
  workerTensors: number[] = [];

  private constructor(
    readonly config: ModelConfig,
    private readonly replicas: Replica[],
  ) {}

  /** Starts `workers` threads and waits until each has its backend and replica. */
  static async create(config: ModelConfig, opts: PoolOptions): Promise<WorkerPool> {
    const n = Math.max(1, Math.floor(opts.workers));
    const init: WorkerInit = { config, backend: opts.backend ?? 'wasm' };
    const replicas = Array.from({ length: n }, () => new Replica(spawn(init)));
    const pool = new WorkerPool(config, replicas);
    try {
      await Promise.all(replicas.map((r) => r.ready));
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  get size(): number {
    return this.replicas.length;
  }

  /** The model's weights changed (an optimizer step, loaded weights): resend before the next request. */
  invalidate(): void {
    this.dirty = true;
  }

  /** Snapshot of the model's weights, read again only when invalidated or for another model. */
  private async snapshot(model: Rank1Model): Promise<Weights> {
    if (this.weights && !this.dirty && this.source === model) return this.weights;
    const params = await Promise.all(
      model.params().map(async (p) => (await p.variable.data()) as Float32Array),
    );
    const state = await Promise.all(model.state().map(async (v) => (await v.data()) as Float32Array));
    this.weights = { version: (this.weights?.version ?? 0) + 1, params, state };
    this.source = model;
    this.dirty = false;
    return this.weights;
  }

  /** Splits chunks into contiguous groups, one per worker (fewer when there are fewer chunks). */
  private groups(chunks: Chunk[]): Chunk[][] {
    const n = Math.min(this.replicas.length, chunks.length);
    return Array.from({ length: n }, (_, w) =>
      chunks.slice(Math.floor((w * chunks.length) / n), Math.floor(((w + 1) * chunks.length) / n)),
    );
  }

  private async run<R extends TrainChunkResult | ForwardChunkResult>(
    model: Rank1Model,
    chunks: Chunk[],
    make: (id: number, weights: Weights | undefined, group: Chunk[]) => Request,
  ): Promise<R[]> {
    if (this.closed) throw new Error('worker pool is closed');
    const weights = await this.snapshot(model);
    const groups = this.groups(chunks);
    const replies = await Promise.all(
      groups.map((g, w) => {
        const r = this.replicas[w]!;
        const send = r.version === weights.version ? undefined : weights;
        r.version = weights.version;
        return r.request(make(this.nextId++, send, g));
      }),
    );
    this.workerTensors = replies.map((m) => (m.type === 'train' ? m.numTensors : -1));
    const results = replies.flatMap((m) =>
      m.type === 'train' || m.type === 'forward' ? (m.results as R[]) : [],
    );
    return results.sort((a, b) => a.index - b.index);
  }

  /** Gradients of Σ CE / totalRows for each chunk (in chunk order). Workers' BN state is spent. */
  async train(
    model: Rank1Model,
    chunks: Chunk[],
    o: { K: number; totalRows: number; numClasses: number; objective?: 'mixture' },
  ): Promise<TrainChunkResult[]> {
    const out = await this.run<TrainChunkResult>(model, chunks, (id, weights, g) => ({
      type: 'train',
      id,
      weights,
      chunks: g,
      ...o,
    }));
    for (const r of this.replicas) r.version = -1; // training overwrote their moving statistics
    return out;
  }

  /** Logits and features of `samples` forward passes (training = false) per chunk. */
  async forward(
    model: Rank1Model,
    chunks: Chunk[],
    o: { K: number; samples: number; factors?: Pick<PredictionFactors, 'members' | 'layers'> },
  ): Promise<ForwardChunkResult[]> {
    return this.run<ForwardChunkResult>(model, chunks, (id, weights, g) => ({
      type: 'forward',
      id,
      weights,
      chunks: g,
      ...o,
    }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(
      this.replicas.map(async (r) => {
        try {
          await Promise.race([
            r.request({ type: 'close', id: this.nextId++ }),
            new Promise((res) => setTimeout(res, 2000)),
          ]);
        } catch {
          // already gone
        }
        await r.worker.terminate();
      }),
    );
  }
}
