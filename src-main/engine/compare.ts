/**
 * The paper's comparison on the user's own data (issue 16 item 5; Dusenberry et al. 2020,
 * Tables 1–3): each method trained on the same split with the same seed and options, then
 * evaluated on the same held-out images (and OOD folder), one row per method.
 */
import * as nodePath from 'node:path';
import type { ExampleSet } from '../data/types.js';
import { buildModel } from './models/index.js';
import type { CompareRow as WireCompareRow } from '../common/index.js';
import { loadModel } from './predict.js';
import { Rng } from './random.js';
import { trainModel, type TrainRequest } from './train.js';
import type { Method } from './types.js';

/** A comparison row (the wire type) and the model folder the method was saved to. */
export interface CompareRow extends WireCompareRow {
  modelDir: string;
}

export interface CompareRequest {
  methods: readonly Method[];
  /** Everything a training run needs except the id, folder and method (shared by every method). */
  train: Omit<TrainRequest, 'id' | 'outDir' | 'onEvent'>;
  /** Held-out images the rows are measured on (pixels; backbone models embed them on load). */
  evaluate: ExampleSet;
  ood?: ExampleSet;
  /** A folder that receives one model folder per method (`<outRoot>/<method>`). */
  outRoot: string;
  /** Images timed for `predict_images_per_s` (default 256, at most the held-out set). */
  predictImages?: number;
  onEvent?: (method: Method, e: Parameters<NonNullable<TrainRequest['onEvent']>>[0]) => void;
}

export async function compareMethods(req: CompareRequest): Promise<CompareRow[]> {
  const rows: CompareRow[] = [];
  for (const method of req.methods) {
    const modelDir = nodePath.join(req.outRoot, method);
    const started = performance.now();
    const meta = await trainModel({
      ...req.train,
      id: `compare-${method}`,
      name: `${req.train.name ?? 'compare'} (${method})`,
      outDir: modelDir,
      model: { ...req.train.model, method },
      onEvent: req.onEvent && ((e) => req.onEvent!(method, e)),
    });
    const trainSeconds = (performance.now() - started) / 1000;
    const model = await loadModel(modelDir);
    try {
      const report = await model.evaluate(req.evaluate, { ood: req.ood, signal: req.train.signal });
      const n = Math.min(req.predictImages ?? 256, req.evaluate.count);
      const idx = Array.from({ length: n }, (_, i) => i);
      const pixels = await req.evaluate.read(idx);
      const t0 = performance.now();
      await model.predict(pixels, n);
      const predictSeconds = (performance.now() - t0) / 1000;
      rows.push({
        method,
        accuracy: report.metrics.accuracy,
        nll: report.metrics.nll,
        ece: report.metrics.ece,
        brier: report.metrics.brier,
        reliability: report.metrics.reliability,
        auroc_flag: report.ood?.auroc_flag ?? null,
        auroc_entropy: report.ood?.auroc_entropy ?? null,
        parameters: parameterCount(meta.config),
        train_seconds: trainSeconds,
        predict_images_per_s: n / Math.max(predictSeconds, 1e-9),
        modelDir,
      });
    } finally {
      model.dispose();
    }
  }
  return rows;
}

/** Trainable parameters of a model with this config (built, counted, disposed). */
export function parameterCount(config: Parameters<typeof buildModel>[0]): number {
  const model = buildModel(config, new Rng(1));
  try {
    return model.params().reduce((s, p) => s + p.variable.size, 0);
  } finally {
    model.dispose();
  }
}
