/**
 * `evaluate`: a model on a dataset split (`auto` = the model's own held-out images when the folder
 * is the one it was trained on, else all), labels mapped to the model's class order, optionally
 * against an OOD folder.
 */
import { realpathSync } from 'node:fs';
import * as nodePath from 'node:path';
import {
  ServiceError,
  leftOutSummary,
  type EvaluateResult,
  type JobStarted,
  type ParsedArgs,
} from '../contract.js';
import type { ImageErrorReason, SkippedFile } from '../common/index.js';
import type { ExampleSet, PreparedImage, Preprocessing } from '../data/types.js';
import type { ServiceContext } from './context.js';
import { abortError } from './errors.js';

// ---------------------------------------------------------------------------------------------
// Example-set views (subsets, concatenations, label remapping) without copying pixels

interface SetEntry {
  set: ExampleSet;
  index: number;
  label: number;
}

function entriesOf(set: ExampleSet): SetEntry[] {
  return Array.from({ length: set.count }, (_, i) => ({ set, index: i, label: set.labels[i]! }));
}

function viewSet(entries: SetEntry[], shape: { height: number; width: number; channels: 1 | 3 }): ExampleSet {
  const pixelsPer = shape.height * shape.width * shape.channels;
  return {
    count: entries.length,
    height: shape.height,
    width: shape.width,
    channels: shape.channels,
    labels: Int32Array.from(entries, (e) => e.label),
    files: entries.map((e) => e.set.files[e.index]!),
    async read(indices: ArrayLike<number>): Promise<Uint8Array> {
      const out = new Uint8Array(indices.length * pixelsPer);
      const groups = new Map<ExampleSet, { local: number[]; at: number[] }>();
      for (let k = 0; k < indices.length; k++) {
        const e = entries[indices[k]!];
        if (!e) throw new RangeError(`example ${indices[k]} out of range`);
        let g = groups.get(e.set);
        if (!g) groups.set(e.set, (g = { local: [], at: [] }));
        g.local.push(e.index);
        g.at.push(k);
      }
      for (const [set, g] of groups) {
        const bytes = await set.read(g.local);
        g.at.forEach((k, j) => out.set(bytes.subarray(j * pixelsPer, (j + 1) * pixelsPer), k * pixelsPer));
      }
      return out;
    },
  };
}

/** A small in-memory set of prepared images (OOD folders that are not class folders). */
function memorySet(files: string[], images: PreparedImage[], prep: Preprocessing): ExampleSet {
  const pixelsPer = prep.size * prep.size * prep.channels;
  return {
    count: images.length,
    height: prep.size,
    width: prep.size,
    channels: prep.channels,
    labels: new Int32Array(images.length),
    files,
    async read(indices: ArrayLike<number>): Promise<Uint8Array> {
      const out = new Uint8Array(indices.length * pixelsPer);
      for (let k = 0; k < indices.length; k++) out.set(images[indices[k]!]!.pixels, k * pixelsPer);
      return out;
    },
  };
}

export async function startEvaluate(ctx: ServiceContext, a: ParsedArgs<'evaluate'>): Promise<JobStarted> {
  const meta = await ctx.models.meta(a.model, 'model');
  const isKnownId =
    ctx.datasets.has(a.dataset) ||
    (await ctx.datasets.list().catch(() => [])).some((d) => d.id === a.dataset);
  if (!isKnownId) ctx.grants.check(a.dataset, 'dataset');
  const oodRoot = a.ood !== undefined ? ctx.grants.check(a.ood, 'ood') : undefined;
  return ctx.jobs.start('evaluate', `Evaluate ${meta.name}`, async (job) => {
    const { model, release } = await ctx.models.acquire(a.model);
    try {
      const prep = meta.preprocessing;
      // One class of the model is a fine folder to measure on; two classes are a rule for training.
      const ds = await ctx.datasets.resolve(a.dataset, 'dataset', {
        prep,
        minClasses: 1,
        signal: job.signal,
      });
      const split = a.split ?? 'auto';
      const all = [...entriesOf(ds.splits.train), ...entriesOf(ds.splits.val), ...entriesOf(ds.splits.test)];
      let entries: SetEntry[];
      let splitName: string = split;
      const own = meta.datasetRoot !== undefined && meta.heldOut && sameFolder(meta.datasetRoot, ds.root);
      if (own && split !== 'all') {
        // The model's own split, from its held-out lists: the import's split follows this run's
        // fractions and seed, not the ones the model was trained with (--test-fraction, --seed).
        const val = new Set(meta.heldOut!.val);
        const test = new Set(meta.heldOut!.test);
        const fileOf = (e: SetEntry) => e.set.files[e.index]!;
        const inSplit = {
          val: (e: SetEntry) => val.has(fileOf(e)),
          test: (e: SetEntry) => test.has(fileOf(e)),
          train: (e: SetEntry) => !val.has(fileOf(e)) && !test.has(fileOf(e)),
          auto: (e: SetEntry) => val.has(fileOf(e)) || test.has(fileOf(e)),
        }[split];
        if (split === 'auto' && !val.size && !test.size)
          throw new ServiceError(
            'failed',
            `No images to evaluate: ${meta.name} trained on every image of ${ds.root} and held out no images; evaluate it on another folder, or on split "all" (its own training images: an optimistic figure).`,
            'dataset',
          );
        if ((split === 'val' && !val.size) || (split === 'test' && !test.size))
          throw new ServiceError(
            'failed',
            `No images to evaluate: ${meta.name} held out no ${split === 'val' ? 'validation' : 'test'} images of ${ds.root} (its ${split === 'val' ? 'validation' : 'test'} fraction was 0).`,
            'split',
          );
        entries = all.filter(inSplit);
        if (split === 'auto') splitName = test.size ? 'held-out validation and test' : 'held-out validation';
      } else if (split === 'train' || split === 'val' || split === 'test')
        entries = entriesOf(ds.splits[split]);
      else {
        entries = all;
        splitName = 'all';
      }
      if (!entries.length)
        throw new ServiceError(
          'failed',
          `No images to evaluate: the ${splitName} split of ${ds.root} is empty; split "all" measures every image.`,
          'split',
        );
      // Labels follow the model's class order; classes the model does not know are left out.
      const toModel = ds.classes.map((c) => meta.classes.indexOf(c));
      const unknown = new Map<string, number>();
      for (const e of entries)
        if (toModel[e.label]! < 0)
          unknown.set(ds.classes[e.label]!, (unknown.get(ds.classes[e.label]!) ?? 0) + 1);
      entries = entries
        .filter((e) => toModel[e.label]! >= 0)
        .map((e) => ({ ...e, label: toModel[e.label]! }));
      if (!entries.length) {
        throw new ServiceError(
          'failed',
          `No images to evaluate: ${splitName === 'all' ? ds.root : `the ${splitName} split of ${ds.root}`} has no images of the model's classes (${meta.classes.slice(0, 10).join(', ')}).`,
        );
      }
      const set = viewSet(entries, { height: prep.size, width: prep.size, channels: prep.channels });
      const skipped: SkippedFile[] = [...ds.report.skipped];
      const ood = oodRoot ? await oodSet(ctx, oodRoot, prep, job.signal, skipped) : undefined;
      const report = await model.evaluate(set, {
        ...(a.samples ? { samples: a.samples } : {}),
        ...(ood ? { ood } : {}),
        signal: job.signal,
        onProgress: (done, total) => job.progress({ done, total }, done === total),
      });
      const result: EvaluateResult = {
        model: a.model,
        split: splitName,
        metrics: report.metrics,
        items: report.items,
      };
      if (report.ood) result.ood = report.ood;
      if (report.oodItems) result.oodItems = report.oodItems;
      if (skipped.length) result.skipped = skipped;
      if (unknown.size) result.unknownClasses = [...unknown].map(([name, images]) => ({ name, images }));
      return result;
    } finally {
      release();
    }
  });
}

/**
 * OOD images with the model's preprocessing: a class-folder import, else every image under the
 * folder. The files left out (unreadable, links out of the grants) are added to `skipped`.
 */
export async function oodSet(
  ctx: ServiceContext,
  root: string,
  prep: Preprocessing,
  signal: AbortSignal,
  skipped: SkippedFile[] = [],
): Promise<ExampleSet> {
  try {
    const ds = await ctx.datasets.importFolder(root, {
      imageSize: prep.size,
      fit: prep.fit,
      channels: prep.channels,
      signal,
    });
    if (ds.preprocessing.size === prep.size && ds.preprocessing.channels === prep.channels) {
      const entries = [
        ...entriesOf(ds.splits.train),
        ...entriesOf(ds.splits.val),
        ...entriesOf(ds.splits.test),
      ];
      if (entries.length) {
        skipped.push(...ds.report.skipped);
        return viewSet(entries, { height: prep.size, width: prep.size, channels: prep.channels });
      }
    }
  } catch (e) {
    if (signal.aborted) throw e;
    // Not a class-folder layout: fall through to a plain walk.
  }
  const data = await ctx.data();
  const walkSkipped = skipped.length; // where this folder's own left-out files start
  const files: string[] = [];
  const images: PreparedImage[] = [];
  // Files passed over for their extension are named too (`skipped`), not silently left out.
  for (const { file, refused } of await ctx.datasets.walkImages(root, signal, skipped)) {
    if (signal.aborted) throw abortError();
    if (refused) {
      skipped.push({ file, reason: 'outside-link', message: refused });
      continue;
    }
    try {
      const img = await data.prepareImage(file, prep);
      files.push(file);
      images.push(img);
    } catch (e) {
      // An image the decoder refuses (data room's ImageError) is left out and named; anything else fails.
      if (!(e instanceof Error && e.name === 'ImageError')) throw e;
      const reason = (e as Error & { reason: ImageErrorReason }).reason;
      skipped.push({ file, reason, message: e.message });
    }
  }
  if (!images.length)
    throw new ServiceError(
      'failed',
      `The OOD folder ${root} has no readable images${skipped.length > walkSkipped ? ` (${leftOutSummary(skipped.slice(walkSkipped))})` : ''}.`,
      'ood',
    );
  return memorySet(files, images, prep);
}

function sameFolder(a: string, b: string): boolean {
  const real = (p: string) => {
    try {
      return realpathSync.native(p);
    } catch {
      return nodePath.resolve(p);
    }
  };
  return real(a) === real(b);
}
