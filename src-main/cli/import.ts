/** `rank1 import DIR [--image-size N] [--fit cover|contain] [--json]`: `datasets.import` through the service. */
import * as nodePath from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_SPLIT_SEED, DEFAULT_TEST_FRACTION, DEFAULT_VAL_FRACTION } from '../contract.js';
import { choiceArg, integer, number, printJson, progressBar, runWithService } from './common.js';

export function registerImport(program: Command): void {
  program
    .command('import')
    .description('import an image folder (ImageFolder or train/val/test layout) into the cache')
    .argument('<dir>', 'folder of class sub-folders')
    .option('--image-size <n>', 'model input side in pixels (default: from the data)', integer)
    .option(
      '--fit <fit>',
      'cover (centre crop) or contain (letterbox)',
      choiceArg(['cover', 'contain'] as const),
    )
    .option('--val <fraction>', `validation fraction (default ${DEFAULT_VAL_FRACTION})`, number)
    .option('--test <fraction>', `test fraction (default ${DEFAULT_TEST_FRACTION})`, number)
    .option('--seed <n>', `split seed (default ${DEFAULT_SPLIT_SEED})`, integer)
    .option('--json', 'print one JSON object instead of a progress bar and summary')
    .action(
      (
        given: string,
        o: {
          imageSize?: number;
          fit?: 'cover' | 'contain';
          val?: number;
          test?: number;
          seed?: number;
          json?: boolean;
        },
      ) => {
        const dir = nodePath.resolve(given);
        return runWithService('import', { grant: [dir] }, async (client) => {
          const bar = progressBar(
            !o.json,
            '{phase} [{bar}] {value}/{total} | {rate} img/s | ETA {eta_formatted}',
          );
          let started = false;
          const ds = await client
            .run<'import'>(
              'datasets.import',
              {
                path: dir,
                ...(o.imageSize ? { imageSize: o.imageSize } : {}),
                ...(o.fit ? { fit: o.fit } : {}),
                ...(o.val !== undefined ? { valFraction: o.val } : {}),
                ...(o.test !== undefined ? { testFraction: o.test } : {}),
                ...(o.seed !== undefined ? { seed: o.seed } : {}),
              },
              (e) => {
                if (!bar || e.type !== 'job.progress' || !('decoded' in e.progress)) return;
                const p = e.progress;
                if (p.phase === 'scan') return;
                const payload = { phase: p.phase, rate: Math.round(p.imagesPerSecond) };
                if (!started) {
                  bar.start(p.total, 0, payload);
                  started = true;
                }
                bar.update(p.decoded + p.cached + p.skipped, payload);
              },
            )
            .finally(() => bar?.stop());
          const r = ds.report!;
          if (o.json) {
            printJson({
              id: ds.id,
              classes: r.classes,
              splits: r.splits,
              skipped: r.skipped.map(({ file, reason }) => ({ file, reason })),
              duplicates: r.duplicates,
              warnings: r.warnings,
              preprocessing: ds.preprocessing,
              images: r.images,
              seconds: r.seconds,
              images_per_s: r.imagesPerSecond,
            });
          } else {
            const s = ds.preprocessing;
            console.log(
              `imported ${r.images} images in ${r.seconds.toFixed(2)} s (${Math.round(r.imagesPerSecond)} img/s; ${r.decoded} decoded, ${r.cached} from cache)`,
            );
            console.log(
              `dataset ${ds.id}: ${ds.classes.length} classes, ${s.size}×${s.size}×${s.channels}, fit ${s.fit}`,
            );
            for (const c of ds.classes)
              console.log(
                `  ${c}: ${r.classes[c]} (train ${r.splits.train[c]}, val ${r.splits.val[c]}, test ${r.splits.test[c]})`,
              );
            if (r.skipped.length) console.log(`skipped ${r.skipped.length}:`);
            for (const k of r.skipped.slice(0, 20))
              console.log(`  ${k.reason}: ${k.file}${k.message ? ` (${k.message})` : ''}`);
            if (r.duplicates.length)
              console.log(
                `${r.duplicates.length} groups of duplicate images (${r.duplicates.filter((d) => d.crossClass).length} across classes)`,
              );
            for (const w of r.warnings) console.log(`warning: ${w}`);
          }
        });
      },
    );
}
