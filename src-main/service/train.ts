/**
 * `train.start`: resolve the dataset with the requested (or resumed model's) preprocessing,
 * prepare transfer features when a backbone is chosen, and run the engine's training as a job.
 */
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import {
  ServiceError,
  type JobStarted,
  type ModelConfig,
  type TrainConfig,
  type ParsedArgs,
} from '../contract.js';
import { modelDir, modelsDir, newModelId, toSummary, type ModelMeta } from '../store/index.js';
import type { ServiceContext } from './context.js';
import { abortError } from './errors.js';

/** Renaming, re-flagging or removing a model that is being written would race its training. */
export function refuseWhileTraining(ctx: ServiceContext, id: string): void {
  if (ctx.training.has(id)) {
    throw new ServiceError('conflict', `Model "${id}" is being trained; cancel the training first.`, 'id');
  }
}

export async function startTraining(ctx: ServiceContext, a: ParsedArgs<'train.start'>): Promise<JobStarted> {
  let resumed: ModelMeta | undefined;
  if (a.resumeFrom) {
    resumed = await ctx.models.meta(a.resumeFrom);
    refuseWhileTraining(ctx, a.resumeFrom);
  }
  // Fail fast (as the call's error) on a path outside the grants.
  const knownRoot =
    ctx.datasets.get(a.dataset)?.root ??
    (await ctx.datasets.list().catch(() => [])).find((d) => d.id === a.dataset)?.root;
  if (knownRoot === undefined) ctx.grants.check(a.dataset, 'dataset');
  if (a.backbone && /[\\/]/.test(a.backbone)) ctx.grants.check(a.backbone, 'backbone');

  const folder = nodePath.basename(knownRoot ?? a.dataset);
  const name = a.name ?? resumed?.name ?? `${folder} ${new Date(ctx.clock()).toISOString().slice(0, 10)}`;
  const id = a.resumeFrom ?? newModelId(name);
  ctx.training.set(id, 'pending');
  let started: JobStarted;
  try {
    started = ctx.jobs.start('train', `Train ${name}`, async (job) => {
      try {
        const ds = await ctx.datasets.resolve(a.dataset, 'dataset', {
          ...(resumed
            ? { prep: resumed.preprocessing }
            : { imageSize: a.imageSize, fit: a.fit, channels: a.channels }),
          valFraction: a.valFraction,
          seed: a.seed,
          signal: job.signal,
          onProgress: (p) => job.progress(p, p.phase !== 'decode'),
        });
        if (job.signal.aborted) throw abortError();
        const engine = await ctx.readyEngine();
        const backboneName = engine.chooseBackbone
          ? engine.chooseBackbone(a.backbone, ds.preprocessing.channels, ds.preprocessing.size)
          : (a.backbone ?? 'none');
        const backbone =
          backboneName !== 'none' && engine.prepareTransfer
            ? await engine.prepareTransfer(backboneName, ds, {
                signal: job.signal,
                onProgress: (p) => job.progress(p, false),
              })
            : undefined;
        const model: Partial<ModelConfig> = {};
        if (a.arch && a.arch !== 'auto') model.arch = a.arch;
        if (a.method) model.method = a.method;
        if (a.members) model.members = a.members;
        if (a.posterior) model.posterior = a.posterior;
        const config: Partial<TrainConfig> = {};
        if (a.epochs) config.epochs = a.epochs;
        if (a.batchSize) config.batchSize = a.batchSize;
        if (a.learningRate) config.learningRate = a.learningRate;
        if (a.optimizer) config.optimizer = a.optimizer;
        if (a.seed !== undefined) config.seed = a.seed;
        // The engine merges a partial augment with its preset's.
        if (a.augment) config.augment = a.augment as TrainConfig['augment'];
        await fs.mkdir(modelsDir(ctx.home), { recursive: true });
        ctx.models.evict(id);
        const meta = await engine.trainModel({
          train: ds.splits.train,
          val: ds.splits.val,
          classes: ds.classes,
          preprocessing: ds.preprocessing,
          datasetRoot: ds.root,
          heldOut: { val: [...ds.splits.val.files], test: [...ds.splits.test.files] },
          model,
          config,
          ...(a.preset ? { preset: a.preset } : {}),
          ...(backbone ? { backbone } : {}),
          id,
          name,
          outDir: modelDir(ctx.home, id),
          resume: !!resumed,
          oodTpr: (await ctx.settings.get()).oodTpr,
          signal: job.signal,
          onEvent: (e) => {
            if (e.type === 'epoch') job.history(e.metrics);
            job.progress(e, e.type !== 'step');
          },
        });
        ctx.models.evict(id);
        return toSummary({ ...meta, id });
      } finally {
        ctx.training.delete(id);
      }
    });
  } catch (e) {
    ctx.training.delete(id);
    throw e;
  }
  ctx.training.set(id, started.jobId);
  return started;
}
