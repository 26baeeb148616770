/** `rank1 predict MODEL_DIR FILE_OR_DIR... --json`: `predict` through the service; one line per image, unreadable files give an error line. */
import * as nodePath from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_PREDICT_BATCH, type PredictionRow, type Settings, type SkippedFile } from '../contract.js';
import { backendOption, integer, printJson, printSkipped, runWithService } from './common.js';

/** One output line per image (the CLI's documented JSON keys). */
function line(r: PredictionRow): Record<string, unknown> {
  if (r.error !== undefined || r.label === undefined)
    return { file: r.file, error: r.error ?? 'no prediction' };
  return {
    file: r.file,
    label: r.label,
    confidence: r.confidence,
    probabilities: r.probs,
    entropy: r.entropy,
    expected_entropy: r.expectedEntropy,
    mutual_information: r.mutualInformation,
    ood: r.ood,
    ...(r.flag ? { ood_score: r.flag.score, ood_value: r.flag.value, ood_threshold: r.flag.threshold } : {}),
    ...(r.warning ? { warning: r.warning } : {}),
  };
}

/** A file passed over as --json prints it: a row like a refused file's, its reason in `skipped`. */
function skippedRow(f: SkippedFile): Record<string, unknown> {
  return { file: f.file, skipped: f.reason, error: f.message ?? f.reason };
}

/** The one stderr line when no image could be predicted: what was given, and why in short. */
function nothingPredicted(given: string[], failed: string[], skipped: number): string {
  if (failed.length === 0)
    return `no images found in ${given.join(', ')}${skipped ? ` (${skipped} file${skipped === 1 ? '' : 's'} there ${skipped === 1 ? 'is' : 'are'} not an image, named above)` : ''}`;
  if (failed.length === 1) return `could not predict ${failed[0]} (see its error above)`;
  return `none of the ${failed.length} files in ${given.join(', ')} could be predicted (see the errors above)`;
}

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('predict images: label, probabilities, entropy split, OOD flag')
    .argument('<model_dir>')
    .argument('<paths...>', 'image files or folders')
    .option('--samples <s>', 'forward samples per member', integer)
    .option('--batch <n>', 'images per batch', integer, DEFAULT_PREDICT_BATCH)
    .addOption(backendOption())
    .option('--json', 'one JSON line per image')
    .action(
      (
        modelDir: string,
        given: string[],
        o: { samples?: number; batch: number; backend: Settings['backend']; json?: boolean },
      ) => {
        const model = nodePath.resolve(modelDir);
        const paths = given.map((p) => nodePath.resolve(p));
        return runWithService(
          'predict',
          { grant: [model, ...paths], backend: o.backend, predictBatch: o.batch },
          async (client) => {
            let warned = false;
            let predicted = 0;
            const failed: string[] = [];
            const result = await client.run<'predict'>(
              'predict',
              { model, paths, thumbnails: false, ...(o.samples ? { samples: o.samples } : {}) },
              (e) => {
                if (e.type !== 'job.item') return;
                const r = e.item;
                if (r.error !== undefined || r.label === undefined) failed.push(r.file);
                else predicted++;
                // The model's warning (e.g. no OOD threshold) once on stderr; --json rows also carry it.
                if (r.warning && !warned) {
                  warned = true;
                  console.error(`rank1 predict: warning: ${r.warning}`);
                }
                if (o.json) printJson(line(r));
                else if (r.error !== undefined || r.label === undefined)
                  console.log(`${r.file}: error: ${r.error ?? 'no prediction'}`);
                else
                  console.log(
                    `${r.file}: ${r.label} (${(r.confidence! * 100).toFixed(1)}%), entropy ${r.entropy!.toFixed(3)} = ${r.expectedEntropy!.toFixed(3)} aleatoric + ${r.mutualInformation!.toFixed(3)} epistemic${r.ood ? '  OOD' : ''}`,
                  );
              },
            );
            // Files that are not images, as `rank1 import` and `rank1 eval` name them (never read).
            printSkipped(result.skipped);
            if (o.json) for (const f of result.skipped ?? []) printJson(skippedRow(f));
            // Bad files beside good ones are reported row by row (exit 0); nothing predicted is a failure.
            if (predicted === 0)
              throw new Error(nothingPredicted(given, failed, result.skipped?.length ?? 0));
          },
        );
      },
    );
}
