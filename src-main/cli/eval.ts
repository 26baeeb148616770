/** `rank1 eval MODEL_DIR DATASET_DIR [--ood DIR] [--samples S] [--split …] --json`: `evaluate` through the service. */
import * as nodePath from 'node:path';
import type { Command } from 'commander';
import { unknownClassLine, type Settings } from '../contract.js';
import { backendOption, choiceArg, integer, printJson, printSkipped, runWithService } from './common.js';

type Split = 'auto' | 'all' | 'train' | 'val' | 'test';

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('evaluate a model on an image folder, optionally against an OOD folder')
    .argument('<model_dir>')
    .argument('<dataset_dir>')
    .option('--ood <dir>', 'a folder of out-of-distribution images')
    .option('--samples <s>', 'forward samples per member (default: the model’s)', integer)
    .option(
      '--split <s>',
      "auto (the model's held-out images on its own folder, else all) | all | train | val | test (on its own folder: the model's own split)",
      choiceArg(['auto', 'all', 'train', 'val', 'test'] as const),
      'auto',
    )
    .addOption(backendOption())
    .option('--json', 'one JSON object')
    .action(
      (
        modelDir: string,
        dir: string,
        o: { ood?: string; samples?: number; split: Split; backend: Settings['backend']; json?: boolean },
      ) => {
        const model = nodePath.resolve(modelDir);
        const dataset = nodePath.resolve(dir);
        const ood = o.ood === undefined ? undefined : nodePath.resolve(o.ood);
        return runWithService(
          'eval',
          { grant: [model, dataset, ...(ood ? [ood] : [])], backend: o.backend },
          async (client) => {
            const summary = await client.call('models.get', { id: model });
            const t0 = performance.now();
            const r = await client.run<'evaluate'>('evaluate', {
              model,
              dataset,
              split: o.split,
              ...(ood ? { ood } : {}),
              ...(o.samples ? { samples: o.samples } : {}),
            });
            const seconds = (performance.now() - t0) / 1000;
            // Every file left out, one line each (a flat OOD folder has no `rank1 import` to list them).
            printSkipped(r.skipped);
            for (const c of r.unknownClasses ?? [])
              console.error(`warning: ${unknownClassLine(c, summary.classes)}`);
            const { backend } = await client.call('system.info', {});
            const m = r.metrics;
            const out = {
              accuracy: m.accuracy,
              nll: m.nll,
              ece: m.ece,
              brier: m.brier,
              n: m.n,
              split: r.split,
              per_class_accuracy: Object.fromEntries(
                summary.classes.map((c, i) => [c, m.perClassAccuracy[i]]),
              ),
              confusion: m.confusion,
              reliability: m.reliability,
              // Calibration (issue 16.1): the temperature the numbers above use, and the same at T = 1.
              temperature: m.temperature ?? 1,
              nll_uncalibrated: m.nll_uncalibrated,
              ece_uncalibrated: m.ece_uncalibrated,
              reliability_uncalibrated: m.reliability_uncalibrated,
              ...(r.ood ? { ...r.ood, flag_score: summary.ood?.score } : {}),
              backend: backend?.name,
              device: backend?.device,
              seconds,
            };
            if (o.json) printJson(out);
            else {
              console.log(
                `${r.split}: n=${m.n}, accuracy ${(m.accuracy * 100).toFixed(2)}%, NLL ${m.nll.toFixed(4)}, ECE ${m.ece.toFixed(4)}, Brier ${m.brier.toFixed(4)}`,
              );
              if (m.temperature !== undefined && m.temperature !== 1)
                console.log(
                  `calibrated at T = ${m.temperature.toFixed(3)}; before: NLL ${m.nll_uncalibrated?.toFixed(4)}, ECE ${m.ece_uncalibrated?.toFixed(4)}`,
                );
              if (r.ood) {
                // A model without an OOD threshold (no validation images) has no flag to score.
                const flag = summary.ood
                  ? `flag (${summary.ood.score}) ${r.ood.auroc_flag?.toFixed(3)}`
                  : 'flag: none (the model has no OOD threshold)';
                console.log(
                  `OOD (${r.ood.n_ood} images): AUROC entropy ${r.ood.auroc_entropy.toFixed(3)}, MI ${r.ood.auroc_mi.toFixed(3)}, ${flag}`,
                );
                console.log(
                  `flagged: ${(r.ood.ood_flag_rate * 100).toFixed(1)}% of OOD images, ${(r.ood.in_flag_rate * 100).toFixed(1)}% of in-distribution images`,
                );
                for (const [k, v] of Object.entries(r.ood.scores ?? {}))
                  console.log(`  ${k}: AUROC ${v.auroc.toFixed(3)}, FPR@95%TPR ${v.fpr95.toFixed(3)}`);
              }
            }
          },
        );
      },
    );
}
