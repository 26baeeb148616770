/** `rank1 eval MODEL_DIR DATASET_DIR [--ood DIR] [--samples S] [--split …] --json` */
import * as nodePath from 'node:path';
import type { Command } from 'commander';
import { importDataset } from '../data/index.js';
import { byFiles, concat, initBackend, loadModel, type BackendName } from '../engine/index.js';
import type { ExampleSet } from '../data/types.js';
import type { ModelMeta } from '../engine/model-format.js';
import { choiceArg, intArg, printJson, runCommand } from './common.js';

type Split = 'auto' | 'all' | 'train' | 'val' | 'test';

/**
 * Which images to evaluate: on the model's own training folder, `auto` means its held-out
 * images (test if it had any, else validation), so the figure is not inflated by training data.
 */
export function chooseSplit(
  meta: ModelMeta,
  root: string,
  splits: { train: ExampleSet; val: ExampleSet; test: ExampleSet },
  split: Split,
): { set: ExampleSet; name: string } {
  const all = concat([splits.train, splits.val, splits.test]);
  if (split === 'all') return { set: all, name: 'all' };
  if (split !== 'auto') return { set: splits[split], name: split };
  if (meta.datasetRoot && nodePath.resolve(root) === meta.datasetRoot && meta.heldOut) {
    const held = meta.heldOut.test.length ? meta.heldOut.test : meta.heldOut.val;
    return {
      set: byFiles(all, held),
      name: meta.heldOut.test.length ? 'held-out test' : 'held-out validation',
    };
  }
  return { set: all, name: 'all' };
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('evaluate a model on an image folder, optionally against an OOD folder')
    .argument('<model_dir>')
    .argument('<dataset_dir>')
    .option('--ood <dir>', 'a folder of out-of-distribution images')
    .option('--samples <s>', 'forward samples per member (default: the model’s)', intArg(1, 64))
    .option(
      '--split <s>',
      'auto | all | train | val | test',
      choiceArg(['auto', 'all', 'train', 'val', 'test'] as const),
      'auto',
    )
    .option(
      '--backend <b>',
      'auto | tensorflow | webgpu | wasm | cpu',
      choiceArg(['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const),
      'auto',
    )
    .option('--json', 'one JSON object')
    .action(
      (
        modelDir: string,
        dir: string,
        o: { ood?: string; samples?: number; split: Split; backend: 'auto' | BackendName; json?: boolean },
      ) =>
        runCommand('eval', async (signal) => {
          const backend = await initBackend(o.backend);
          const model = await loadModel(modelDir);
          try {
            const prep = model.meta.preprocessing;
            const importOpts = { imageSize: prep.size, fit: prep.fit, channels: prep.channels, signal };
            const ds = await importDataset(dir, importOpts);
            const missing = ds.classes.filter((c) => !model.meta.classes.includes(c));
            if (missing.length)
              throw new Error(
                `${dir} has classes the model does not know: ${missing.slice(0, 5).join(', ')}`,
              );
            // Relabel to the model's class order (folders may list classes differently).
            const { set, name } = chooseSplit(model.meta, dir, ds.splits, o.split);
            const relabelled: ExampleSet = {
              ...set,
              read: set.read,
              labels: Int32Array.from(set.labels, (l) => model.meta.classes.indexOf(ds.classes[l]!)),
            };
            const ood = o.ood
              ? await importDataset(o.ood, { ...importOpts, valFraction: 0, testFraction: 0 })
              : undefined;
            const oodSet = ood ? concat([ood.splits.train, ood.splits.val, ood.splits.test]) : undefined;
            const t0 = performance.now();
            const r = await model.evaluate(relabelled, { samples: o.samples, ood: oodSet, signal });
            const seconds = (performance.now() - t0) / 1000;
            const m = r.metrics;
            const out = {
              accuracy: m.accuracy,
              nll: m.nll,
              ece: m.ece,
              brier: m.brier,
              n: m.n,
              split: name,
              per_class_accuracy: Object.fromEntries(
                model.meta.classes.map((c, i) => [c, m.perClassAccuracy[i]]),
              ),
              confusion: m.confusion,
              reliability: m.reliability,
              temperature: m.temperature,
              nll_uncalibrated: m.nll_uncalibrated,
              ece_uncalibrated: m.ece_uncalibrated,
              reliability_uncalibrated: m.reliability_uncalibrated,
              ...(r.ood ? { ...r.ood, flag_score: model.meta.ood?.score } : {}),
              backend: backend.name,
              device: backend.device,
              seconds,
            };
            if (o.json) printJson(out);
            else {
              console.log(
                `${name}: n=${m.n}, accuracy ${(m.accuracy * 100).toFixed(2)}%, NLL ${m.nll.toFixed(4)}, ECE ${m.ece.toFixed(4)}, Brier ${m.brier.toFixed(4)}`,
              );
              if (r.ood) {
                console.log(
                  `OOD (${r.ood.n_ood} images): AUROC entropy ${r.ood.auroc_entropy.toFixed(3)}, MI ${r.ood.auroc_mi.toFixed(3)}, flag (${model.meta.ood?.score}) ${r.ood.auroc_flag?.toFixed(3)}`,
                );
                console.log(
                  `flagged: ${(r.ood.ood_flag_rate * 100).toFixed(1)}% of OOD images, ${(r.ood.in_flag_rate * 100).toFixed(1)}% of in-distribution images`,
                );
                for (const [k, v] of Object.entries(r.ood.scores ?? {}))
                  console.log(`  ${k}: AUROC ${v.auroc.toFixed(3)}, FPR@95%TPR ${v.fpr95.toFixed(3)}`);
              }
            }
          } finally {
            model.dispose();
          }
        }),
    );
}
