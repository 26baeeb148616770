/**
 * Throughput of the benchmark model rank1-resnet20 on random data, timed like the PyTorch
 * yardstick (../shared/bench/torch_rank1_resnet20.py): 3 warm-up steps, then `steps` timed;
 * unique images per second. On wasm the step and the prediction run over worker threads
 * (engine/parallel; RANK1_WORKERS=0 runs in-process), as training does.
 */
import fs from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { prepareImage } from '../data/index.js';
import { builtinBackbone } from './backbones/catalog.js';
import { EMBED_BATCH } from './backbones/embedder.js';
import { loadBackbone } from './backbones/index.js';
import { onnxCacheFile } from './backbones/onnx-embedder.js';
import { createSession } from './onnx/runtime.js';
import type { Tensor } from 'onnxruntime-node';
import { currentBackend } from './backends/index.js';
import { resolveModelConfig } from './defaults.js';
import { tileMembers } from './inference.js';
import { buildModel } from './models/index.js';
import { createOptimizer } from './optimizer.js';
import {
  deviceWithWorkers,
  makeParallelTrainStep,
  resolveWorkers,
  runMembersParallel,
  WorkerPool,
} from './parallel/index.js';
import { Rng } from './random.js';
import { makeTrainStep } from './train.js';

export interface BenchResult {
  phase: 'train' | 'predict';
  images_per_s: number;
  ms_per_step: number;
  backend: string;
  device: string;
  batch: number;
  members: number;
  model: string;
}

export interface BenchOptions {
  batch: number;
  members: number;
  steps: number;
  classes?: number;
  /** Worker threads (default: resolveWorkers for the backend; 0 = in-process). */
  workers?: number;
  /** Unique images per training / prediction chunk on the workers. */
  chunkExamples?: number;
  predictChunkExamples?: number;
}

export async function benchResnet20(opts: BenchOptions): Promise<BenchResult[]> {
  const info = currentBackend();
  const backend = info?.name ?? tf.getBackend();
  const workers = resolveWorkers(backend, opts.workers);
  const classes = opts.classes ?? 10;
  const config = resolveModelConfig(
    { size: 32, channels: 3, count: 50_000, numClasses: classes },
    { arch: 'resnet20', members: opts.members },
  );
  const rng = new Rng(0);
  const model = buildModel(config, rng);
  const optimizer = createOptimizer('sgd');
  const pool =
    workers > 0 ? await WorkerPool.create(config, { workers, backend: backend as 'wasm' }) : undefined;
  const stepOpts = { numClasses: classes, l2: 1e-4, trainSize: 50_000 };
  const step = pool
    ? makeParallelTrainStep(model, optimizer, pool, { ...stepOpts, chunkExamples: opts.chunkExamples })
    : makeTrainStep(model, optimizer, stepOpts);
  const x = tf.randomNormal([opts.batch, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const labels = Int32Array.from({ length: opts.batch }, () => rng.int(classes));
  /** One prediction pass: the members' mean probabilities (spec §5), S = 1. */
  const predict = async () => {
    if (pool) {
      const out = await runMembersParallel(pool, model, x, 1, rng, opts.predictChunkExamples);
      const mean = new Float32Array(opts.batch * classes);
      for (let i = 0; i < out.probs.length; i++) {
        const c = i % classes;
        const b = Math.floor(i / (out.M * classes));
        mean[b * classes + c]! += out.probs[i]! / out.M;
      }
      return;
    }
    const p = tf.tidy(() => {
      const { logits } = model.forward(tileMembers(x, opts.members), { training: false, rng });
      return tf.mean(tf.reshape(tf.softmax(logits), [opts.members, opts.batch, classes]), 0);
    });
    await p.data();
    p.dispose();
  };
  const timed = async (fn: () => Promise<unknown>) => {
    for (let i = 0; i < 3; i++) await fn();
    const t0 = performance.now();
    for (let i = 0; i < opts.steps; i++) await fn();
    return (performance.now() - t0) / opts.steps;
  };
  const base = {
    backend,
    device: deviceWithWorkers(info?.device ?? '', pool),
    batch: opts.batch,
    members: opts.members,
    model: 'rank1-resnet20',
  };
  try {
    const trainMs = await timed(() => step(x, labels, 0.05, 1, rng));
    const predictMs = await timed(predict);
    return (
      [
        ['train', trainMs],
        ['predict', predictMs],
      ] as const
    ).map(([phase, ms]) => ({
      phase,
      images_per_s: round((opts.batch * 1000) / ms),
      ms_per_step: round(ms),
      ...base,
    }));
  } finally {
    x.dispose();
    model.dispose();
    optimizer.dispose();
    await pool?.close();
  }
}

const round = (v: number) => Math.round(v * 10) / 10;

export interface EmbedBenchResult {
  /** 'decode': image files → stored pixels (sharp); 'embed': stored pixels → features. */
  phase: 'decode' | 'embed';
  images_per_s: number;
  /** 'sharp' (decode), 'tfjs', 'onnxruntime' (our embedder), 'onnxruntime-raw' (the converted network alone). */
  backend: string;
  device: string;
  backbone: string;
  images: number;
  size: number;
}

export interface EmbedBenchOptions {
  backbone: string;
  /** Image files to decode and embed (e.g. a photo folder's first N files). */
  files: readonly string[];
  /** Stored side in pixels the images are decoded to (the backbone resizes to its input). */
  size: number;
  /** Which embedders to time (default both). */
  engines?: readonly ('tfjs' | 'onnx')[];
  /** Interleaved timed passes per engine; the best is reported (default 3). */
  repeats?: number;
}

/**
 * Embedding throughput (issue 18): decode once (timed apart), then each engine embeds the same
 * pixels after one warm-up batch (which also converts and verifies the ONNX model), and the
 * converted network alone on raw onnxruntime-node, fed the same the same pixels already batched as float32 (the graph resizes and scales them). The timed
 * passes are interleaved `repeats` times and the best of each is reported, so a machine whose load
 * changes during the run does not favour whichever engine ran first.
 */
export async function benchEmbed(opts: EmbedBenchOptions): Promise<EmbedBenchResult[]> {
  const n = opts.files.length;
  const per = opts.size * opts.size * 3;
  const pixels = new Uint8Array(n * per);
  const prep = {
    size: opts.size,
    channels: 3 as const,
    fit: 'cover' as const,
    background: { r: 255, g: 255, b: 255 },
  };
  let t0 = performance.now();
  for (let i = 0; i < n; i++) pixels.set((await prepareImage(opts.files[i]!, prep)).pixels, i * per);
  const decodeS = (performance.now() - t0) / 1000;
  const shape = [opts.size, opts.size, 3] as const;
  const warm = Math.min(n, EMBED_BATCH);

  interface Runner {
    backend: string;
    device: string;
    backbone: string;
    run: () => Promise<unknown>;
    close: () => Promise<void>;
  }
  const runners: Runner[] = [];
  try {
    for (const engine of opts.engines ?? (['tfjs', 'onnx'] as const)) {
      const bb = await loadBackbone({ name: opts.backbone }, { engine });
      runners.push({
        backend: bb.backend ?? engine,
        device: bb.device ?? '',
        backbone: bb.name,
        run: () => bb.embed(pixels, n, shape),
        close: async () => bb.dispose(),
      });
      await bb.embed(pixels.subarray(0, warm * per), warm, shape);
      if (bb.backend !== 'onnxruntime') continue;
      // The converted network alone: the cached .onnx, fed pixels already batched.
      const spec = builtinBackbone(bb.name);
      const output = spec ? spec.embedding : bb.name.split('#')[1];
      const bytes = await fs.readFile(onnxCacheFile(bb.sha256, output)).catch(() => undefined);
      if (!bytes) continue;
      const info = await createSession(new Uint8Array(bytes));
      const feeds: Record<string, Tensor>[] = [];
      for (let s = 0; s < n; s += EMBED_BATCH) {
        const c = Math.min(EMBED_BATCH, n - s);
        const x = new Float32Array(pixels.subarray(s * per, (s + c) * per));
        feeds.push({ [info.session.inputNames[0]!]: new info.ort.Tensor('float32', x, [c, ...shape]) });
      }
      runners.push({
        backend: 'onnxruntime-raw',
        device: info.device,
        backbone: bb.name,
        run: async () => {
          for (const f of feeds) await info.session.run(f);
        },
        close: () => info.session.release(),
      });
      await info.session.run(feeds[0]!);
    }
    const best = runners.map(() => Infinity);
    for (let rep = 0; rep < (opts.repeats ?? 3); rep++)
      for (let i = 0; i < runners.length; i++) {
        t0 = performance.now();
        await runners[i]!.run();
        best[i] = Math.min(best[i]!, (performance.now() - t0) / 1000);
      }
    const base = { images: n, size: opts.size };
    return [
      {
        phase: 'decode',
        images_per_s: round(n / decodeS),
        backend: 'sharp',
        device: 'cpu',
        backbone: runners[0]?.backbone ?? opts.backbone,
        ...base,
      },
      ...runners.map((r, i) => ({
        phase: 'embed' as const,
        images_per_s: round(n / best[i]!),
        backend: r.backend,
        device: r.device,
        backbone: r.backbone,
        ...base,
      })),
    ];
  } finally {
    for (const r of runners) await r.close();
  }
}
