/**
 * `rank1 bench [--batch 128] [--members 4] [--backend …] [--torch SCRIPT] --json`: throughput of
 * rank1-resnet20 on random data; with --torch, the PyTorch yardstick runs in the same process
 * tree right after, so the two figures form a ratio from one run on one machine.
 *
 * `rank1 bench --embed [--backbone mobilenet-v1-0.25] [--images DIR] [--count 256] [--size 224]
 * --json`: embedding throughput of a frozen backbone on TF.js and on ONNX Runtime side by side,
 * plus raw onnxruntime-node on the same converted network; image decoding is timed apart.
 */
import fs from 'node:fs/promises';
import nodePath from 'node:path';
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import type { Command } from 'commander';
import { benchResnet20, initBackend, type BackendName } from '../engine/index.js';
import { benchEmbed } from '../engine/bench.js';
import { DEFAULT_BACKBONE } from '../engine/backbones/index.js';
import { choiceArg, intArg, printJson, runCommand } from './common.js';

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('time one training step and one prediction pass of rank1-resnet20')
    .option('--batch <n>', 'unique images per step', intArg(1, 4096), 128)
    .option('--members <k>', 'members K', intArg(1, 16), 4)
    .option('--steps <n>', 'timed steps after 3 warm-up steps', intArg(1, 1000), 5)
    .option(
      '--backend <b>',
      'auto | tensorflow | webgpu | wasm | cpu',
      choiceArg(['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const),
      'auto',
    )
    .option('--torch <script>', 'also run this PyTorch yardstick (torch_rank1_resnet20.py) with python3')
    .option('--torch-device <d>', 'device for the yardstick', 'cpu')
    .option('--embed', 'time the frozen backbone instead: TF.js and ONNX Runtime side by side')
    .option('--backbone <name>', 'with --embed: the backbone', DEFAULT_BACKBONE)
    .option('--images <dir>', 'with --embed: a folder of photos (sub-folders included)')
    .option('--count <n>', 'with --embed: images to embed', intArg(1, 100_000), 256)
    .option(
      '--size <px>',
      'with --embed: stored image side before the backbone resizes',
      intArg(16, 1024),
      224,
    )
    .option('--json', 'JSON lines')
    .action(
      (o: {
        embed?: boolean;
        backbone: string;
        images?: string;
        count: number;
        size: number;
        batch: number;
        members: number;
        steps: number;
        backend: 'auto' | BackendName;
        torch?: string;
        torchDevice: string;
        json?: boolean;
      }) =>
        runCommand('bench', async () => {
          await initBackend(o.backend);
          if (o.embed) {
            if (!o.images) throw new Error('bench --embed needs --images DIR (a folder of photos)');
            const files = (await listImages(nodePath.resolve(o.images))).slice(0, o.count);
            if (files.length === 0) throw new Error(`${o.images}: no image files found`);
            for (const r of await benchEmbed({ backbone: o.backbone, files, size: o.size })) {
              if (o.json) printJson(r);
              else
                console.log(
                  `${r.phase}: ${r.images_per_s} images/s on ${r.backend} (${r.device}), ${r.images} images at ${r.size} px`,
                );
            }
            return;
          }
          const results = await benchResnet20(o);
          for (const r of results) {
            if (o.json) printJson(r);
            else
              console.log(
                `${r.phase}: ${r.images_per_s} images/s (${r.ms_per_step} ms/step) on ${r.backend} (${r.device}), batch ${r.batch}, ${r.members} members`,
              );
          }
          if (o.torch) {
            const args = [
              o.torch,
              '--device',
              o.torchDevice,
              '--batch',
              String(o.batch),
              '--members',
              String(o.members),
              '--steps',
              String(o.steps),
            ];
            if (o.torchDevice === 'cpu') args.push('--threads', String(cpus().length));
            const py = spawnSync(process.env.PYTHON ?? 'python3', args, { encoding: 'utf8' });
            if (py.status !== 0)
              throw new Error(
                `PyTorch yardstick failed: ${(py.stderr || py.error?.message || '').trim().split('\n').pop()}`,
              );
            for (const line of py.stdout.trim().split('\n')) {
              const r = JSON.parse(line) as { phase: string; images_per_s: number; impl: string };
              const ratio = results.find((x) => x.phase === r.phase)!.images_per_s / r.images_per_s;
              if (o.json) printJson({ ...r, yardstick: true, ratio: Math.round(ratio * 1000) / 1000 });
              else
                console.log(
                  `${r.phase} (${r.impl}): ${r.images_per_s} images/s; rank1 / PyTorch = ${ratio.toFixed(3)}`,
                );
            }
          }
        }),
    );
}

const IMAGE = /\.(jpe?g|png|webp|bmp|gif|tiff?)$/i;

/** Image files under `dir`, sorted, sub-folders included (a dataset's class folders). */
async function listImages(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && IMAGE.test(e.name))
    .map((e) => nodePath.join(e.parentPath, e.name))
    .sort();
}
