/**
 * `train.start`: resolve the dataset with the requested (or resumed model's) preprocessing,
 * prepare transfer features when a backbone is chosen, and run the engine's training as a job.
 */
import { promises as fs, constants as fsConstants, type Stats } from 'node:fs';
import * as nodePath from 'node:path';
import {
  DEFAULT_FINE_TUNE_BLOCKS,
  ServiceError,
  type JobStarted,
  type ModelConfig,
  type TrainConfig,
  type ParsedArgs,
} from '../contract.js';
import { checkOutputFolder, modelDir, modelsDir, newModelId, type ModelMeta } from '../store/index.js';
import type { ServiceContext } from './context.js';
import { toSummary } from './model-cache.js';
import { requireImages } from './datasets.js';
import { abortError } from './errors.js';
import type { ImportedDataset } from './ports.js';

/** Renaming, re-flagging or removing a model that is being written would race its training. */
export function refuseWhileTraining(ctx: ServiceContext, id: string): void {
  if (ctx.training.has(id)) {
    throw new ServiceError('conflict', `Model "${id}" is being trained; cancel the training first.`, 'id');
  }
}

/**
 * Refuse an output folder before any work when writing it could lose something (issue 13): the
 * engine's rule (absent, empty or a model folder of ours; never the dataset, inside it or holding
 * it), then that the nearest existing folder is writable, so a bad --out is not found after training.
 */
async function checkOutFolder(dir: string, datasetRoot: string): Promise<void> {
  await checkOutputFolder(dir, { dataset: datasetRoot });
  // The nearest entry that exists (a link counts, even one leading nowhere) must be a folder: the
  // model's folders are created below it, which cannot go through a dangling link or a file.
  let existing = dir;
  let st: Stats | undefined;
  while (!(st = await fs.lstat(existing).catch(() => undefined))) existing = nodePath.dirname(existing);
  if (existing !== dir && !(await fs.stat(existing).catch(() => undefined))?.isDirectory())
    throw new ServiceError(
      'failed',
      `"out": ${existing} is ${st.isSymbolicLink() ? 'a link that leads nowhere' : 'not a folder'}; choose another folder for the model.`,
      'out',
    );
  await fs.access(existing, fsConstants.W_OK).catch(() => {
    throw new ServiceError(
      'failed',
      `"out": ${existing} is not writable; choose another folder for the model.`,
      'out',
    );
  });
}

/** The model and training options of a `train.start` (or `compare.start`): only those given. */
export function trainOptions(a: Partial<Omit<ParsedArgs<'train.start'>, 'dataset'>>): {
  model: Partial<ModelConfig>;
  config: Partial<TrainConfig>;
} {
  const model: Partial<ModelConfig> = {};
  if (a.arch && a.arch !== 'auto') model.arch = a.arch;
  if (a.method) model.method = a.method;
  if (a.members) model.members = a.members;
  if (a.posterior) model.posterior = a.posterior;
  if (a.randomSignInit !== undefined) model.randomSignInit = a.randomSignInit;
  const config: Partial<TrainConfig> = {};
  if (a.epochs) config.epochs = a.epochs;
  if (a.batchSize) config.batchSize = a.batchSize;
  if (a.learningRate) config.learningRate = a.learningRate;
  if (a.optimizer) config.optimizer = a.optimizer;
  if (a.seed !== undefined) config.seed = a.seed;
  // The engine merges a partial augment with its preset's.
  if (a.augment) config.augment = a.augment as TrainConfig['augment'];
  if (a.calibrate !== undefined) config.calibrate = a.calibrate;
  return { model, config };
}

/** `fineTune` > 0 trains a backbone's blocks: refused, naming the field, when there is none. */
export function refuseFineTuneWithout(backbone: string | undefined, fineTune: number): void {
  if (fineTune > 0 && backbone !== undefined && backbone.trim().toLowerCase() === 'none')
    throw new ServiceError(
      'bad-request',
      `"fineTune": ${fineTune} backbone blocks asked for, but no backbone is used; choose one or fine-tune 0.`,
      'fineTune',
    );
}

/** What a training reads of an imported dataset: its splits, classes, pixels and held-out files. */
export function trainingData(ds: ImportedDataset) {
  return {
    train: ds.splits.train,
    val: ds.splits.val,
    classes: ds.classes,
    preprocessing: ds.preprocessing,
    datasetRoot: ds.root,
    heldOut: { val: [...ds.splits.val.files], test: [...ds.splits.test.files] },
  };
}

export async function startTraining(ctx: ServiceContext, a: ParsedArgs<'train.start'>): Promise<JobStarted> {
  let resumed: ModelMeta | undefined;
  let out: string | undefined;
  if (a.resumeFrom) {
    resumed = await ctx.models.meta(a.resumeFrom, 'resumeFrom');
    out = (await ctx.models.locate(a.resumeFrom, 'resumeFrom')).dir;
    refuseWhileTraining(ctx, nodePath.basename(out));
  }
  // Resume continues on the checkpoint's own images unless another dataset is named.
  const dataset = a.dataset ?? resumed?.datasetRoot;
  if (dataset === undefined)
    throw new ServiceError(
      'bad-request',
      a.resumeFrom
        ? `Model "${a.resumeFrom}" does not record its dataset folder; choose the dataset to resume on.`
        : 'train.start: "dataset" is required.',
      'dataset',
    );
  // Fail fast (as the call's error) on a path outside the grants.
  const knownRoot =
    ctx.datasets.get(dataset)?.root ??
    (await ctx.datasets.list().catch(() => [])).find((d) => d.id === dataset)?.root;
  const root = knownRoot ?? ctx.grants.check(dataset, 'dataset');
  if (a.backbone && /[\\/]/.test(a.backbone)) ctx.grants.check(a.backbone, 'backbone');
  // A resumed checkpoint keeps its own backbone (or none): the features must be the ones it learnt on.
  const backboneArg = resumed ? (resumed.backbone?.name ?? 'none') : a.backbone;
  // …and its own fine-tuned blocks (the cut its cached maps come from).
  const fineTune = resumed
    ? (resumed.config.fineTune?.blocks ?? 0)
    : (a.fineTune ?? DEFAULT_FINE_TUNE_BLOCKS);
  refuseFineTuneWithout(backboneArg, fineTune);
  if (a.out !== undefined) {
    const given = ctx.grants.check(a.out, 'out');
    if (out !== undefined && given !== out)
      throw new ServiceError('bad-request', '"out": a resumed training continues in its own folder.', 'out');
    // The folder as it was named: a link there is refused (output-guard), not followed to its target.
    if (out === undefined) await checkOutFolder(nodePath.resolve(a.out), root);
    out = given;
  }

  const folder = nodePath.basename(root);
  const name =
    a.name ??
    resumed?.name ??
    (out !== undefined
      ? nodePath.basename(out)
      : `${folder} ${new Date(ctx.clock()).toISOString().slice(0, 10)}`);
  const id = out !== undefined ? nodePath.basename(out) : newModelId(name);
  const outDir = out ?? modelDir(ctx.home, id);
  ctx.training.set(id, 'pending');
  let started: JobStarted;
  try {
    started = ctx.jobs.start('train', `Train ${name}`, async (job) => {
      try {
        const ds = await ctx.datasets.resolve(dataset, 'dataset', {
          ...(resumed
            ? { prep: resumed.preprocessing }
            : { imageSize: a.imageSize, fit: a.fit, channels: a.channels }),
          valFraction: a.valFraction,
          testFraction: a.testFraction,
          seed: a.seed,
          signal: job.signal,
          onProgress: (p) => job.progress(p, p.phase !== 'decode'),
        });
        if (job.signal.aborted) throw abortError();
        requireImages(ds);
        if (ds.classes.length < 2)
          throw new ServiceError(
            'failed',
            `${ds.root} has only one class (${ds.classes[0] ?? 'none'}); training needs at least two class folders.`,
            'dataset',
          );
        const engine = await ctx.readyEngine();
        const backboneName = engine.chooseBackbone
          ? engine.chooseBackbone(backboneArg, ds.preprocessing.channels, ds.preprocessing.size)
          : (backboneArg ?? 'none');
        refuseFineTuneWithout(backboneName, fineTune);
        const backbone =
          backboneName !== 'none' && engine.prepareTransfer
            ? await engine.prepareTransfer(backboneName, ds, {
                fineTune,
                signal: job.signal,
                freeSpace: ctx.freeSpace,
                onProgress: (p) => job.progress(p, false),
              })
            : undefined;
        const { model, config } = trainOptions(a);
        await fs.mkdir(modelsDir(ctx.home), { recursive: true });
        ctx.models.evict(outDir);
        const meta = await engine.trainModel({
          ...trainingData(ds),
          model,
          config,
          ...(a.preset ? { preset: a.preset } : {}),
          ...(backbone ? { backbone } : {}),
          id,
          name,
          outDir,
          resume: !!resumed,
          oodTpr: (await ctx.settings.get()).oodTpr,
          signal: job.signal,
          freeSpace: ctx.freeSpace,
          onEvent: (e) => {
            if (e.type === 'epoch') job.history(e.metrics);
            job.progress(e, e.type !== 'step');
          },
        });
        ctx.models.evict(outDir);
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
