/** `rank1 train DATASET_DIR --out MODEL_DIR …`: `train.start` through the service, progress and a report. */
import * as nodePath from 'node:path';
import type { Command } from 'commander';
import {
  DEFAULT_FINE_TUNE_BLOCKS,
  DEFAULT_MEMBERS,
  DEFAULT_SPLIT_SEED,
  DEFAULT_TEST_FRACTION,
  DEFAULT_TRAIN_SEED,
  DEFAULT_VAL_FRACTION,
  type ImportProgress,
  MAX_FINE_TUNE_BLOCKS,
  flagRule,
  scoreLabel,
  METHODS,
  type ModelConfig,
  type OperationArgs,
  type Settings,
  type TrainConfig,
} from '../contract.js';
import {
  backendOption,
  choiceArg,
  importDisplay,
  intArg,
  integer,
  number,
  printJson,
  progressBar,
  runWithService,
} from './common.js';

interface TrainOptions {
  out: string;
  arch?: 'mlp' | 'cnn' | 'resnet20' | 'wrn-28-10';
  method?: ModelConfig['method'];
  members?: number;
  posterior?: ModelConfig['posterior'];
  randomSignInit?: number;
  epochs?: number;
  batch?: number;
  lr?: number;
  optimizer?: TrainConfig['optimizer'];
  imageSize?: number;
  fit?: 'cover' | 'contain';
  valFraction?: number;
  testFraction?: number;
  seed?: number;
  preset?: 'quick' | 'balanced' | 'best';
  flip?: boolean;
  calibrate?: boolean;
  fineTune?: number;
  resume?: boolean;
  backend: Settings['backend'];
  backbone?: string;
  json?: boolean;
}

/** "dataset: 120 images, 5 files skipped (`rank1 import DIR` lists them)" from the import's last event. */
function datasetLine(dir: string, e: ImportProgress): string {
  const skipped = e.skipped
    ? `, ${e.skipped} file${e.skipped === 1 ? '' : 's'} skipped (\`rank1 import ${JSON.stringify(dir)}\` lists them)`
    : '';
  return `dataset: ${e.images ?? e.total} images${skipped}`;
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train a rank-1 BNN on an image folder (one sub-folder per class)')
    .argument('<dataset_dir>', 'ImageFolder root')
    .requiredOption('--out <model_dir>', 'model folder to write (new, empty, or a model folder)')
    .option(
      '--arch <arch>',
      'mlp | cnn | resnet20 | wrn-28-10 (default: chosen from the data)',
      choiceArg(['mlp', 'cnn', 'resnet20', 'wrn-28-10'] as const),
    )
    .option('--method <method>', METHODS.join(' | '), choiceArg(METHODS))
    .option('--members <k>', `mixture components K (default ${DEFAULT_MEMBERS})`, integer)
    .option('--posterior <p>', 'gaussian | cauchy', choiceArg(['gaussian', 'cauchy'] as const))
    .option('--random-sign-init <p>', 'P(+1) of the random-sign factor init; ≤ 0 means Normal(1, −p)', number)
    .option('--epochs <n>', 'epochs', integer)
    .option('--batch <n>', 'unique images per step', integer)
    .option('--lr <x>', 'base learning rate', number)
    .option('--optimizer <o>', 'sgd (Nesterov) | adam', choiceArg(['sgd', 'adam'] as const))
    .option('--image-size <n>', 'input side in pixels (default: from the data)', integer)
    .option('--fit <fit>', 'cover | contain', choiceArg(['cover', 'contain'] as const))
    .option('--val-fraction <x>', `validation fraction (default ${DEFAULT_VAL_FRACTION})`, number)
    .option('--test-fraction <x>', `test fraction (default ${DEFAULT_TEST_FRACTION})`, number)
    .option(
      '--seed <n>',
      `training seed (default ${DEFAULT_TRAIN_SEED}), also the split seed (default ${DEFAULT_SPLIT_SEED})`,
      integer,
    )
    .option('--preset <p>', 'quick | balanced | best', choiceArg(['quick', 'balanced', 'best'] as const))
    .option('--no-flip', 'no horizontal-flip augmentation')
    .option('--no-calibrate', 'no temperature scaling fitted on the validation split after training')
    .option('--resume', 'continue from the checkpoint in --out')
    .addOption(backendOption())
    .option(
      '--backbone <b>',
      'mobilenet-v1-0.25 | mobilenet-v2-0.35 | none | PATH[#output] (default: a pretrained backbone for colour images > 32 px)',
    )
    .option(
      '--fine-tune <n>',
      `train the backbone's last N blocks with rank-1 factors (0..${MAX_FINE_TUNE_BLOCKS}; default ${DEFAULT_FINE_TUNE_BLOCKS}: frozen)`,
      intArg(0, MAX_FINE_TUNE_BLOCKS),
    )
    .option('--json', 'one JSON line per epoch, then {"model", "val"}')
    .action((dir: string, o: TrainOptions, cmd: Command) => {
      const dataset = nodePath.resolve(dir);
      const out = nodePath.resolve(o.out);
      const backbonePath =
        o.backbone && /[\\/]/.test(o.backbone) ? o.backbone.replace(/#[^\\/]*$/, '') : undefined;
      return runWithService(
        'train',
        {
          grant: [dataset, out, ...(backbonePath ? [backbonePath] : [])],
          backend: o.backend,
          fieldOptions: { batchSize: '--batch', learningRate: '--lr' },
        },
        async (client) => {
          const args: OperationArgs<'train.start'> = {
            dataset,
            out,
            ...(o.resume ? { resumeFrom: out } : {}),
            arch: o.arch,
            method: o.method,
            members: o.members,
            posterior: o.posterior,
            randomSignInit: o.randomSignInit,
            epochs: o.epochs,
            batchSize: o.batch,
            learningRate: o.lr,
            optimizer: o.optimizer,
            imageSize: o.imageSize,
            fit: o.fit,
            valFraction: o.valFraction,
            testFraction: o.testFraction,
            seed: o.seed,
            preset: o.preset,
            backbone: backbonePath ? nodePath.resolve(o.backbone!) : o.backbone,
            ...(cmd.getOptionValueSource('flip') === 'cli' ? { augment: { flip: o.flip !== false } } : {}),
            fineTune: o.fineTune,
            ...(o.calibrate === false ? { calibrate: false } : {}),
          };
          const imported = importDisplay(!o.json, (e) => {
            if (!o.json) console.error(datasetLine(dataset, e));
          });
          const transferBar = progressBar(!o.json, '{phase} [{bar}] {value}/{total}');
          const bar = progressBar(
            !o.json,
            'epoch {epoch} [{bar}] {value}/{total} | loss {loss} | {ips} img/s | ETA {eta_formatted}',
          );
          let barPhase = '';
          let backend = '';
          let device = '';
          const model = await client
            .run<'train'>('train.start', args, (ev) => {
              if (ev.type !== 'job.progress') return;
              const e = ev.progress;
              if ('decoded' in e) imported.onImport(e);
              else if ('phase' in e) {
                if (!transferBar || e.phase !== 'embed') return;
                const phase = `embedding ${e.split}`;
                if (phase !== barPhase) {
                  transferBar.stop();
                  transferBar.start(e.total, e.done, { phase });
                  barPhase = phase;
                } else transferBar.update(e.done, { phase });
              } else if ('type' in e) {
                if (e.type === 'start') {
                  transferBar?.stop();
                  ({ backend, device } = e);
                  if (!o.json) console.error(`backend: ${backend} (${device})`);
                  bar?.start(e.totalSteps, 0, { epoch: 1, loss: '-', ips: '-' });
                } else if (e.type === 'step')
                  bar?.update(e.step, {
                    epoch: e.epoch,
                    loss: e.loss.toFixed(3),
                    ips: e.imagesPerSecond.toFixed(0),
                  });
                else if (e.type === 'epoch') {
                  if (o.json) printJson({ ...e.metrics, backend, device });
                  else {
                    const m = e.metrics;
                    bar?.stop();
                    // No validation images (--val-fraction 0): no validation numbers, not NaN.
                    const val = Number.isFinite(m.valAccuracy)
                      ? `val acc ${(m.valAccuracy * 100).toFixed(1)}%, NLL ${m.valNll.toFixed(3)}, ECE ${m.valEce.toFixed(3)}`
                      : 'no validation images';
                    // The NLL and the KL term apart, as the app's curves: their sum grows while the
                    // KL weight anneals in, however well the model learns.
                    console.error(
                      `epoch ${m.epoch}: train NLL ${m.trainNll.toFixed(3)} (KL term ${m.kl.toFixed(3)}); ${val}; ${m.imagesPerSecond.toFixed(0)} img/s`,
                    );
                  }
                }
              }
            })
            .finally(() => {
              imported.stop();
              transferBar?.stop();
              bar?.stop();
            });
          const val = model.metrics?.val;
          if (o.json) {
            printJson({
              model: out,
              val: val && { accuracy: val.accuracy, nll: val.nll, ece: val.ece, brier: val.brier, n: val.n },
              ood: model.ood && {
                score: model.ood.score,
                threshold: model.ood.threshold,
                tpr: model.ood.tpr,
              },
              config: model.config,
              backend,
              device,
            });
          } else {
            console.log(`model saved to ${out}`);
            if (val)
              console.log(
                `validation: accuracy ${(val.accuracy! * 100).toFixed(1)}%, NLL ${val.nll!.toFixed(3)}, ECE ${val.ece!.toFixed(3)}, Brier ${val.brier!.toFixed(3)} (n=${val.n})`,
              );
            if (model.backbone)
              console.log(
                `backbone: ${model.backbone.name} (${model.config.fineTune ? `last ${model.config.fineTune.blocks} blocks fine-tuned` : 'frozen'})`,
              );
            if (model.ood)
              console.log(
                // How many images the threshold rests on: with a handful it is simply their largest score.
                `OOD flag: ${scoreLabel(model.ood.score)} (${model.ood.score}): flagged when ${flagRule(model.ood.score, model.ood.threshold)} (keeps ${(model.ood.tpr * 100).toFixed(0)}% of ${val?.n ? `the ${val.n} ` : ''}validation images)`,
              );
            else
              console.log(
                `OOD flag: none: ${model.warning ?? 'no validation images to fit its threshold on'}`,
              );
          }
        },
      );
    });
}
