/** `rank1 train DATASET_DIR --out MODEL_DIR …`: import, train, report. */
import * as nodePath from 'node:path';
import type { Command } from 'commander';
import { importDataset } from '../data/index.js';
import {
  chooseBackbone,
  initBackend,
  prepareTransfer,
  trainModel,
  type BackendName,
  type ModelConfig,
  type TrainConfig,
} from '../engine/index.js';
import { checkOutputFolder } from '../store/index.js';
import { choiceArg, intArg, numArg, printJson, progressBar, runCommand } from './common.js';
import { METHODS } from '../engine/types.js';

interface TrainOptions {
  out: string;
  arch?: ModelConfig['arch'];
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
  resume?: boolean;
  backend: 'auto' | BackendName;
  backbone?: string;
  json?: boolean;
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train a rank-1 BNN on an image folder (one sub-folder per class)')
    .argument('<dataset_dir>', 'ImageFolder root')
    .requiredOption('--out <model_dir>', 'model folder to write')
    .option(
      '--arch <arch>',
      'mlp | cnn | resnet20 | wrn-28-10 (default: chosen from the data)',
      choiceArg(['mlp', 'cnn', 'resnet20', 'wrn-28-10'] as const),
    )
    .option('--method <method>', METHODS.join(' | '), choiceArg(METHODS))
    .option('--members <k>', 'mixture components K (default 4)', intArg(1, 16))
    .option('--posterior <p>', 'gaussian | cauchy', choiceArg(['gaussian', 'cauchy'] as const))
    .option(
      '--random-sign-init <p>',
      'P(+1) of the random-sign factor init; ≤ 0 means Normal(1, −p)',
      numArg(-1, 1),
    )
    .option('--epochs <n>', 'epochs', intArg(1, 10000))
    .option('--batch <n>', 'unique images per step', intArg(1, 4096))
    .option('--lr <x>', 'base learning rate', numArg(1e-6, 10))
    .option('--optimizer <o>', 'sgd (Nesterov) | adam', choiceArg(['sgd', 'adam'] as const))
    .option('--image-size <n>', 'input side in pixels (default: from the data)', intArg(16, 256))
    .option('--fit <fit>', 'cover | contain', choiceArg(['cover', 'contain'] as const))
    .option('--val-fraction <x>', 'validation fraction (default 0.1)', numArg(0, 0.5))
    .option('--test-fraction <x>', 'test fraction (default 0)', numArg(0, 0.5))
    .option('--seed <n>', 'seed (default 42)', intArg(0, 2 ** 31 - 1))
    .option('--preset <p>', 'quick | balanced | best', choiceArg(['quick', 'balanced', 'best'] as const))
    .option('--no-flip', 'no horizontal-flip augmentation')
    .option('--resume', 'continue from the checkpoint in --out')
    .option(
      '--backend <b>',
      'auto | tensorflow | webgpu | wasm | cpu',
      choiceArg(['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const),
      'auto',
    )
    .option(
      '--backbone <b>',
      'mobilenet-v1-0.25 | mobilenet-v2-0.35 | none | PATH[#output] (default: a pretrained backbone for photos > 32 px)',
    )
    .option('--json', 'one JSON line per epoch, then {"model", "val"}')
    .action((dir: string, o: TrainOptions, cmd: Command) =>
      runCommand('train', async (signal) => {
        // Before any work (issue 13): --out is new, empty or a model folder of ours, never the dataset.
        await checkOutputFolder(o.out, { dataset: dir });
        const backend = await initBackend(o.backend);
        const ds = await importDataset(dir, {
          imageSize: o.imageSize,
          fit: o.fit,
          valFraction: o.valFraction,
          testFraction: o.testFraction,
          seed: o.seed,
          signal,
        });
        if (!o.json) {
          console.error(`backend: ${backend.name} (${backend.device})`);
          console.error(
            `dataset: ${ds.report.images} images, ${ds.classes.length} classes, train ${ds.splits.train.count} / val ${ds.splits.val.count} / test ${ds.splits.test.count}`,
          );
        }
        const backboneName = chooseBackbone(o.backbone, ds.preprocessing.channels, ds.preprocessing.size);
        const transferBar = progressBar(
          !o.json && backboneName !== 'none',
          '{phase} [{bar}] {value}/{total}',
        );
        let barPhase = '';
        const backbone = await prepareTransfer(backboneName, ds, {
          signal,
          onProgress: (p) => {
            if (!transferBar || p.phase !== 'embed') return;
            const phase = `embedding ${p.split}`;
            if (phase !== barPhase) {
              transferBar.stop();
              transferBar.start(p.total, p.done, { phase });
              barPhase = phase;
            } else transferBar.update(p.done, { phase });
          },
        });
        transferBar?.stop();
        if (!o.json && backbone)
          console.error(`backbone: ${backbone.name} (${backbone.embeddingSize} features)`);
        const flipGiven = cmd.getOptionValueSource('flip') === 'cli';
        const bar = progressBar(
          !o.json,
          'epoch {epoch} [{bar}] {value}/{total} | loss {loss} | {ips} img/s | ETA {eta_formatted}',
        );
        const out = nodePath.resolve(o.out);
        let device = backend.device;
        const meta = await trainModel({
          train: ds.splits.train,
          val: ds.splits.val,
          classes: ds.classes,
          preprocessing: ds.preprocessing,
          datasetRoot: nodePath.resolve(dir),
          heldOut: { val: [...ds.splits.val.files], test: [...ds.splits.test.files] },
          id: nodePath.basename(out),
          name: nodePath.basename(out),
          outDir: out,
          resume: o.resume,
          preset: o.preset,
          backbone,
          model: {
            arch: o.arch,
            method: o.method,
            members: o.members,
            posterior: o.posterior,
            randomSignInit: o.randomSignInit,
          },
          config: {
            epochs: o.epochs,
            batchSize: o.batch,
            learningRate: o.lr,
            optimizer: o.optimizer,
            seed: o.seed,
            ...(flipGiven ? { augment: { crop: true, flip: o.flip !== false } } : {}),
          },
          signal,
          onEvent: (e) => {
            if (e.type === 'start') {
              device = e.device; // with the worker threads it runs on
              bar?.start(e.totalSteps, 0, { epoch: 1, loss: '-', ips: '-' });
            } else if (e.type === 'step')
              bar?.update(e.step, {
                epoch: e.epoch,
                loss: e.loss.toFixed(3),
                ips: e.imagesPerSecond.toFixed(0),
              });
            else if (e.type === 'epoch') {
              if (o.json) printJson({ ...e.metrics, backend: backend.name, device });
              else {
                const m = e.metrics;
                bar?.stop();
                console.error(
                  `epoch ${m.epoch}: loss ${m.trainLoss.toFixed(3)}, val acc ${(m.valAccuracy * 100).toFixed(1)}%, NLL ${m.valNll.toFixed(3)}, ECE ${m.valEce.toFixed(3)}, ${m.imagesPerSecond.toFixed(0)} img/s`,
                );
              }
            }
          },
        });
        bar?.stop();
        const val = meta.metrics?.val;
        if (o.json) {
          printJson({
            model: out,
            val: val && { accuracy: val.accuracy, nll: val.nll, ece: val.ece, brier: val.brier, n: val.n },
            ood: meta.ood && { score: meta.ood.score, threshold: meta.ood.threshold, tpr: meta.ood.tpr },
            config: meta.config,
            backend: backend.name,
            device,
          });
        } else {
          console.log(`model saved to ${out}`);
          if (val)
            console.log(
              `validation: accuracy ${(val.accuracy! * 100).toFixed(1)}%, NLL ${val.nll!.toFixed(3)}, ECE ${val.ece!.toFixed(3)}, Brier ${val.brier!.toFixed(3)} (n=${val.n})`,
            );
          if (meta.ood)
            console.log(
              `OOD flag: ${meta.ood.score} > ${meta.ood.threshold.toPrecision(4)} (keeps ${(meta.ood.tpr * 100).toFixed(0)}% of validation images)`,
            );
        }
      }),
    );
}
