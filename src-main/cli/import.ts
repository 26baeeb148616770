/** `rank1 import DIR [--image-size N] [--fit cover|contain] [--json]`: import a folder into the cache. */
import cliProgress from 'cli-progress';
import { type Command, InvalidArgumentError } from 'commander';
import { importDataset, type ImportOptions } from '../data/index.js';

function intArg(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 1024)
    throw new InvalidArgumentError('must be an integer in 1..1024');
  return n;
}

function fracArg(v: string): number {
  const n = Number(v);
  if (!(n >= 0 && n < 1)) throw new InvalidArgumentError('must be a number in [0, 1)');
  return n;
}

export function registerImport(program: Command): void {
  program
    .command('import')
    .description('import an image folder (ImageFolder or train/val/test layout) into the cache')
    .argument('<dir>', 'folder of class sub-folders')
    .option('--image-size <n>', 'model input side in pixels (default: from the data)', intArg)
    .option('--fit <fit>', 'cover (centre crop) or contain (letterbox)', (v) => {
      if (v !== 'cover' && v !== 'contain') throw new InvalidArgumentError('must be cover or contain');
      return v;
    })
    .option('--val <fraction>', 'validation fraction (default 0.1)', fracArg)
    .option('--test <fraction>', 'test fraction (default 0)', fracArg)
    .option('--seed <n>', 'split seed', (v) => Number.parseInt(v, 10))
    .option('--json', 'print one JSON object instead of a progress bar and summary')
    .exitOverride((err) => {
      process.exit(err.exitCode === 0 ? 0 : 2); // usage errors → 2 (commander already printed the message)
    })
    .action(
      async (
        dir: string,
        o: {
          imageSize?: number;
          fit?: 'cover' | 'contain';
          val?: number;
          test?: number;
          seed?: number;
          json?: boolean;
        },
      ) => {
        const bar = o.json
          ? null
          : new cliProgress.SingleBar(
              { format: '{phase} [{bar}] {value}/{total} | {rate} img/s | ETA {eta_formatted}' },
              cliProgress.Presets.shades_classic,
            );
        let started = false;
        const ac = new AbortController();
        const onSigint = () => ac.abort();
        process.once('SIGINT', onSigint);
        const opts: ImportOptions = {
          signal: ac.signal,
          ...(o.imageSize ? { imageSize: o.imageSize } : {}),
          ...(o.fit ? { fit: o.fit } : {}),
          ...(o.val !== undefined ? { valFraction: o.val } : {}),
          ...(o.test !== undefined ? { testFraction: o.test } : {}),
          ...(o.seed !== undefined ? { seed: o.seed } : {}),
          onProgress: (p) => {
            if (!bar || p.phase === 'scan') return;
            const payload = { phase: p.phase, rate: Math.round(p.imagesPerSecond) };
            if (!started) {
              bar.start(p.total, 0, payload);
              started = true;
            }
            bar.update(p.decoded + p.cached + p.skipped, payload);
          },
        };
        try {
          const ds = await importDataset(dir, opts);
          bar?.stop();
          const r = ds.report;
          if (o.json) {
            const out = {
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
            };
            process.stdout.write(`${JSON.stringify(out)}\n`);
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
        } catch (e) {
          bar?.stop();
          process.stderr.write(
            `rank1 import: ${e instanceof Error ? e.message : String(e)}\n`.replace(/\n(?=.)/g, ' '),
          );
          process.exitCode = 1;
        } finally {
          process.off('SIGINT', onSigint);
        }
      },
    );
}
