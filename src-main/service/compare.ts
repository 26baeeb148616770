/**
 * `compare.start` (issue 16 item 5): the paper's comparison on the user's own data. The folder is
 * imported once with a held-out test split, every method is trained on the same train/val split
 * with the same seed and options (the engine's `compareMethods`), then measured on the same test
 * images and OOD folder. One row per method; the models are kept under `<home>/comparisons/`.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import {
  COMPARE_TEST_FRACTION,
  DEFAULT_FINE_TUNE_BLOCKS,
  ServiceError,
  type CompareProgress,
  type CompareResult,
  type JobStarted,
  type ParsedArgs,
} from '../contract.js';
import type { SkippedFile } from '../common/index.js';
import type { ServiceContext } from './context.js';
import { abortError } from './errors.js';
import { oodSet } from './evaluate.js';
import { refuseFineTuneWithout, trainOptions, trainingData } from './train.js';

/** Where a comparison's model folders go: new per run, so nothing is ever overwritten. */
export function comparisonsDir(home: string): string {
  return nodePath.join(home, 'comparisons');
}

export async function startCompare(ctx: ServiceContext, a: ParsedArgs<'compare.start'>): Promise<JobStarted> {
  // Fail fast (as the call's error) on paths outside the grants.
  const listed =
    ctx.datasets.get(a.dataset) ??
    (await ctx.datasets.list().catch(() => [])).find((d) => d.id === a.dataset);
  const root = listed?.root ?? ctx.grants.check(a.dataset, 'dataset');
  const oodRoot = a.ood !== undefined ? ctx.grants.check(a.ood, 'ood') : undefined;
  if (a.backbone && /[\\/]/.test(a.backbone)) ctx.grants.check(a.backbone, 'backbone');
  refuseFineTuneWithout(a.backbone, a.fineTune ?? DEFAULT_FINE_TUNE_BLOCKS);
  const folderName = nodePath.basename(root);

  return ctx.jobs.start('compare', `Compare ${a.methods.join(', ')} on ${folderName}`, async (job) => {
    // A fresh import with its own test split, kept out of the session's catalog so that a later
    // training on this dataset keeps the splits it was imported with.
    const prep = listed?.preprocessing;
    const imageSize = a.imageSize ?? prep?.size;
    // Channels only when asked: a dataset imported with 'auto' is stored in colour even when its
    // preprocessing is grey, and asking for 1 would import (and list) a second copy of it.
    const channels = a.channels;
    const data = await ctx.data();
    const ds = await data.importDataset(root, {
      fit: a.fit ?? prep?.fit ?? (await ctx.settings.get()).defaultFit,
      ...(imageSize !== undefined ? { imageSize } : {}),
      ...(channels !== undefined ? { channels } : {}),
      ...(a.valFraction !== undefined ? { valFraction: a.valFraction } : {}),
      testFraction: a.testFraction ?? COMPARE_TEST_FRACTION,
      ...(a.seed !== undefined ? { seed: a.seed } : {}),
      signal: job.signal,
      onProgress: (p) => job.progress(p, p.phase !== 'decode'),
      freeSpace: ctx.freeSpace,
    });
    if (job.signal.aborted) throw abortError();
    // A folder with given train/test sub-folders may have no test images; then the validation split.
    const split = ds.splits.test.count > 0 ? 'test' : 'val';
    const measured = ds.splits[split];
    if (!measured.count)
      throw new ServiceError('failed', `${ds.root} has too few images to hold any out for the comparison.`);

    const engine = await ctx.readyEngine();
    if (!engine.compareMethods)
      throw new ServiceError('unsupported', 'This engine cannot compare methods; update the app.');
    const backboneName = engine.chooseBackbone
      ? engine.chooseBackbone(a.backbone, ds.preprocessing.channels, ds.preprocessing.size)
      : (a.backbone ?? 'none');
    refuseFineTuneWithout(backboneName, a.fineTune ?? DEFAULT_FINE_TUNE_BLOCKS);
    const backbone =
      backboneName !== 'none' && engine.prepareTransfer
        ? await engine.prepareTransfer(backboneName, ds, {
            fineTune: a.fineTune ?? DEFAULT_FINE_TUNE_BLOCKS,
            signal: job.signal,
            freeSpace: ctx.freeSpace,
            onProgress: (p) => job.progress(p, false),
          })
        : undefined;
    const skipped: SkippedFile[] = [...ds.report.skipped];
    const ood = oodRoot ? await oodSet(ctx, oodRoot, ds.preprocessing, job.signal, skipped) : undefined;

    const { model, config } = trainOptions(a);

    const stamp = new Date(ctx.clock()).toISOString().replace(/[:.]/g, '-');
    const folder = nodePath.join(comparisonsDir(ctx.home), `${stamp}-${randomBytes(3).toString('hex')}`);
    await fs.mkdir(folder, { recursive: true });

    // Progress in training steps over every method; a method's step count is known at its start.
    const methods = a.methods.length;
    let stepsPer = 0;
    const report = (p: Omit<CompareProgress, 'methods' | 'total'>, important: boolean) =>
      job.progress({ ...p, methods, total: stepsPer * methods }, important);
    let backend: CompareResult['backend'];
    const rows = await engine.compareMethods({
      methods: a.methods,
      train: {
        ...trainingData(ds),
        model,
        config,
        ...(a.preset ? { preset: a.preset } : {}),
        ...(backbone ? { backbone } : {}),
        name: folderName,
        oodTpr: (await ctx.settings.get()).oodTpr,
        signal: job.signal,
      },
      evaluate: measured,
      ...(ood ? { ood } : {}),
      outRoot: folder,
      onEvent: (method, e) => {
        const index = a.methods.indexOf(method);
        if (e.type === 'start') {
          stepsPer = e.totalSteps;
          backend = { name: e.backend, device: e.device };
          report({ method, index, stage: 'train', done: index * stepsPer }, true);
        } else if (e.type === 'step')
          report({ method, index, stage: 'train', epoch: e.epoch, done: index * stepsPer + e.step }, false);
        else if (e.type === 'done')
          report({ method, index, stage: 'measure', done: (index + 1) * stepsPer }, true);
      },
    });
    if (job.signal.aborted) throw abortError();
    return {
      dataset: ds.root,
      split,
      n: measured.count,
      n_ood: ood ? ood.count : null,
      ...(a.seed !== undefined ? { seed: a.seed } : {}),
      ...(backend ? { backend } : {}),
      folder,
      rows: rows.map(({ modelDir: _dir, ...row }) => row),
      ...(skipped.length ? { skipped } : {}),
    };
  });
}
