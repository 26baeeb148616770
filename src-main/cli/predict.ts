/** `rank1 predict MODEL_DIR FILE_OR_DIR... --json`: one line per image; unreadable files give an error line. */
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import type { Command } from 'commander';
import { prepareImage } from '../data/index.js';
import { initBackend, loadModel, type BackendName } from '../engine/index.js';
import { choiceArg, intArg, printJson, runCommand } from './common.js';

const HIDDEN = /^(\.|__MACOSX$|Thumbs\.db$|desktop\.ini$)/i;

/** Files under the given paths, folders walked recursively in name order, hidden files skipped. */
export async function* expandPaths(paths: string[]): AsyncGenerator<string> {
  for (const p of paths) {
    const st = await fs.stat(p).catch(() => null);
    if (st?.isDirectory()) {
      const entries = (await fs.readdir(p)).filter((e) => !HIDDEN.test(e)).sort();
      yield* expandPaths(entries.map((e) => nodePath.join(p, e)));
    } else yield p;
  }
}

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('predict images: label, probabilities, entropy split, OOD flag')
    .argument('<model_dir>')
    .argument('<paths...>', 'image files or folders')
    .option('--samples <s>', 'forward samples per member', intArg(1, 64))
    .option('--batch <n>', 'images per batch', intArg(1, 1024), 32)
    .option(
      '--backend <b>',
      'auto | tensorflow | webgpu | wasm | cpu',
      choiceArg(['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const),
      'auto',
    )
    .option('--json', 'one JSON line per image')
    .action(
      (
        modelDir: string,
        paths: string[],
        o: { samples?: number; batch: number; backend: 'auto' | BackendName; json?: boolean },
      ) =>
        runCommand('predict', async (signal) => {
          await initBackend(o.backend);
          const model = await loadModel(modelDir);
          const { meta } = model;
          const size = meta.preprocessing.size * meta.preprocessing.size * meta.preprocessing.channels;
          let batch: { file: string; pixels: Uint8Array }[] = [];
          const flush = async () => {
            if (!batch.length) return;
            const pixels = new Uint8Array(batch.length * size);
            batch.forEach((b, i) => pixels.set(b.pixels, i * size));
            const preds = await model.predict(pixels, batch.length, { samples: o.samples });
            preds.forEach((p, i) => {
              const row = {
                file: batch[i]!.file,
                label: p.label,
                confidence: p.confidence,
                probabilities: Object.fromEntries(meta.classes.map((c, k) => [c, p.probabilities[k]])),
                entropy: p.entropy,
                expected_entropy: p.expectedEntropy,
                mutual_information: p.mutualInformation,
                ood: p.ood,
                ...(p.flag
                  ? { ood_score: p.flag.score, ood_value: p.flag.value, ood_threshold: p.flag.threshold }
                  : {}),
              };
              if (o.json) printJson(row);
              else
                console.log(
                  `${row.file}: ${p.label} (${(p.confidence * 100).toFixed(1)}%), entropy ${p.entropy.toFixed(3)} = ${p.expectedEntropy.toFixed(3)} aleatoric + ${p.mutualInformation.toFixed(3)} epistemic${p.ood ? '  OOD' : ''}`,
                );
            });
            batch = [];
          };
          try {
            for await (const file of expandPaths(paths)) {
              if (signal.aborted) throw new Error('cancelled');
              try {
                const img = await prepareImage(file, meta.preprocessing);
                batch.push({ file, pixels: img.pixels });
              } catch (e) {
                const error = e instanceof Error ? e.message : String(e);
                if (o.json) printJson({ file, error });
                else console.log(`${file}: error: ${error}`);
              }
              if (batch.length >= o.batch) await flush();
            }
            await flush();
          } finally {
            model.dispose();
          }
        }),
    );
}
