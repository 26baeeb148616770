/**
 * `predict`: files and folders (walked, links leaving the grants skipped) and dropped images,
 * prepared with the model's preprocessing and predicted in batches; one `job.item` per image.
 */
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import type { JobStarted, PredictionRow, ParsedArgs, SkippedFile } from '../contract.js';
import type { ServiceContext } from './context.js';
import { abortError, imageErrorMessage } from './errors.js';

export async function startPredict(ctx: ServiceContext, a: ParsedArgs<'predict'>): Promise<JobStarted> {
  const meta = await ctx.models.meta(a.model, 'model');
  const roots: string[] = [];
  for (const [i, p] of (a.paths ?? []).entries()) roots.push(await ctx.datasets.checkPath(p, `paths.${i}`));
  const settings = await ctx.settings.get();
  return ctx.jobs.start('predict', `Predict with ${meta.name}`, async (job) => {
    const { model, release } = await ctx.models.acquire(a.model);
    try {
      const data = await ctx.data();
      const prep = model.meta?.preprocessing ?? meta.preprocessing;
      const classes = model.meta?.classes ?? meta.classes;
      const pixelsPer = prep.size * prep.size * prep.channels;
      const uncertainAbove = settings.uncertainFraction * Math.log(Math.max(2, classes.length));

      // `refused`: listed (one row saying why) but never read.
      type Input = {
        file: string;
        name: string;
        source: string | Buffer;
        dropped: boolean;
        refused?: string;
      };
      const inputs: Input[] = [];
      // Files of a folder passed over for their extension: named in the result, never read.
      const skipped: SkippedFile[] = [];
      for (const root of roots) {
        const stat = await fs.stat(root).catch(() => undefined);
        if (stat?.isDirectory()) {
          for (const { file: f, refused } of await ctx.datasets.walkImages(root, job.signal, skipped))
            inputs.push({ file: f, name: nodePath.basename(f), source: f, dropped: false, refused });
        } else inputs.push({ file: root, name: nodePath.basename(root), source: root, dropped: false });
      }
      for (const f of a.files ?? []) {
        inputs.push({ file: f.name, name: f.name, source: Buffer.from(f.base64, 'base64'), dropped: true });
      }
      const total = inputs.length;
      job.progress({ done: 0, total }, true);
      let done = 0;
      let errors = 0;
      let flagged = 0;
      for (let start = 0; start < total; start += ctx.predictBatch) {
        if (job.signal.aborted) throw abortError();
        const batch = inputs.slice(start, start + ctx.predictBatch);
        const prepared = await Promise.all(
          batch.map(async (input) => {
            if (input.refused) return { error: input.refused };
            try {
              const img = await data.prepareImage(input.source, prep);
              if (img.pixels.length !== pixelsPer)
                throw new Error(`prepared image has ${img.pixels.length} values, expected ${pixelsPer}`);
              return { img };
            } catch (e) {
              return { error: imageErrorMessage(e) };
            }
          }),
        );
        const ok = prepared.flatMap((p, i) => (p.img ? [i] : []));
        const pixels = new Uint8Array(ok.length * pixelsPer);
        ok.forEach((i, k) => pixels.set(prepared[i]!.img!.pixels, k * pixelsPer));
        const predictions = ok.length
          ? await model.predict(pixels, ok.length, a.samples ? { samples: a.samples } : undefined)
          : [];
        const byIndex = new Map(ok.map((i, k) => [i, predictions[k]!]));
        // Files on disk and dropped bytes alike: the window cannot show every format itself (TIFF).
        const thumbs = a.thumbnails
          ? await Promise.all(
              batch.map((input) =>
                input.refused
                  ? undefined
                  : ctx.datasets
                      .thumbnailOf(
                        typeof input.source === 'string'
                          ? input.source
                          : { name: input.name, bytes: input.source },
                        96,
                      )
                      .then(
                        (t) => `data:${t.mime};base64,${t.base64}`,
                        () => undefined,
                      ),
              ),
            )
          : [];
        for (let i = 0; i < batch.length; i++) {
          const input = batch[i]!;
          const row: PredictionRow = {
            file: input.file,
            name: input.name,
            ...(input.dropped ? { dropped: true } : {}),
          };
          const p = byIndex.get(i);
          if (!p) {
            row.error = prepared[i]!.error ?? 'no prediction';
            errors++;
          } else {
            Object.assign(row, {
              label: p.label,
              labelIndex: p.labelIndex,
              confidence: p.confidence,
              probabilities: p.probabilities,
              entropy: p.entropy,
              expectedEntropy: p.expectedEntropy,
              mutualInformation: p.mutualInformation,
              ood: p.ood,
              uncertain: p.entropy > uncertainAbove,
              probs: Object.fromEntries(classes.map((c, k) => [c, p.probabilities[k] ?? 0])),
            });
            if (p.scores) row.scores = p.scores;
            if (p.flag) row.flag = p.flag;
            if (p.warning) row.warning = p.warning;
            if (row.ood || row.uncertain) flagged++;
          }
          if (thumbs[i]) row.thumbnail = thumbs[i];
          job.item(row);
        }
        done += batch.length;
        job.progress({ done, total }, done === total);
      }
      return { count: total, errors, flagged, ...(skipped.length ? { skipped } : {}) };
    } finally {
      release();
    }
  });
}
