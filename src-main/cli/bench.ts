/**
 * `rank1 bench [--batch 128] [--members 4] [--backend …] [--torch SCRIPT] --json`: throughput of
 * rank1-resnet20 on random data; with --torch, the PyTorch yardstick runs in the same process
 * tree right after, so the two figures form a ratio from one run on one machine.
 *
 * `rank1 bench --embed [--backbone mobilenet-v1-0.25] [--images DIR] [--count 256] [--size 224]
 * --json`: embedding throughput of a frozen backbone on TF.js and on ONNX Runtime side by side,
 * plus raw onnxruntime-node on the same converted network; image decoding is timed apart. Then, in
 * the same run, PyTorch's torchvision equivalent (test/bench/torch_mobilenet_embed.py, or --torch
 * SCRIPT) when python3 has torch and torchvision; when not, one line says so and no row is printed.
 */
import fs from 'node:fs/promises';
import nodePath from 'node:path';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { DEFAULT_MEMBERS } from '../contract.js';
import { benchResnet20, initBackend, type BackendName } from '../engine/index.js';
import { benchEmbed } from '../engine/bench.js';
import { DEFAULT_BACKBONE } from '../engine/backbones/index.js';
import { backendOption, intArg, printJson, runCommand } from './common.js';

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('time one training step and one prediction pass of rank1-resnet20')
    .option('--batch <n>', 'unique images per step', intArg(1, 4096), 128)
    .option('--members <k>', 'members K', intArg(1, 16), DEFAULT_MEMBERS)
    .option('--steps <n>', 'timed steps after 3 warm-up steps', intArg(1, 1000), 5)
    .addOption(backendOption())
    .option(
      '--torch <script>',
      'also run this PyTorch yardstick with python3 (torch_rank1_resnet20.py; with --embed default test/bench/torch_mobilenet_embed.py)',
    )
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
            const rows: EmbedRow[] = await benchEmbed({ backbone: o.backbone, files, size: o.size });
            const torch = torchEmbedYardstick(o.torch, o.backbone, files.length, o.size);
            if ('row' in torch) rows.push(torch.row);
            for (const r of rows) {
              if (o.json) printJson(r);
              else
                console.log(
                  `${r.phase}: ${r.images_per_s} images/s on ${r.backend} (${r.device}), ${r.images} images at ${r.size} px`,
                );
            }
            if ('absent' in torch) console.error(torch.absent);
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

type EmbedRow = Awaited<ReturnType<typeof benchEmbed>>[number] | TorchEmbedRow;

interface TorchEmbedRow {
  phase: 'embed';
  backend: 'pytorch';
  backbone: string;
  images_per_s: number;
  device: string;
  images: number;
  size: number;
}

/** The torchvision network standing in for each built-in backbone in the yardstick. */
const TORCH_EQUIVALENT: Record<string, string> = {
  'mobilenet-v1-0.25': 'v1-0.25',
  'mobilenet-v2-0.35': 'v2-0.35',
};

/** test/bench/torch_mobilenet_embed.py from source (src-main/cli) or built (dist/main/cli). */
function defaultEmbedYardstick(): string | undefined {
  return ['../../test/bench/', '../../../test/bench/']
    .map((rel) => fileURLToPath(new URL(`${rel}torch_mobilenet_embed.py`, import.meta.url)))
    .find((f) => existsSync(f));
}

/**
 * PyTorch's torchvision equivalent of `backbone`, timed on random weights at the same count and
 * size (issue 18's yardstick): a row, or one line saying why there is none (no script, no
 * equivalent network, or python3 without torch / torchvision: the script's exit status 3).
 */
function torchEmbedYardstick(
  script: string | undefined,
  backbone: string,
  count: number,
  size: number,
): { row: TorchEmbedRow } | { absent: string } {
  const file = script ?? defaultEmbedYardstick();
  if (!file) return { absent: 'PyTorch yardstick: test/bench/torch_mobilenet_embed.py not found (no row)' };
  const equivalent = TORCH_EQUIVALENT[backbone];
  if (!equivalent) return { absent: `PyTorch yardstick: no torchvision equivalent of ${backbone} (no row)` };
  const args = [file, '--backbone', equivalent, '--count', String(count), '--size', String(size)];
  args.push('--threads', String(availableParallelism())); // as the ONNX Runtime session
  const python = process.env.PYTHON ?? 'python3';
  const py = spawnSync(python, args, { encoding: 'utf8' });
  const why = (py.stderr || py.error?.message || '').trim().split('\n').pop() ?? '';
  if (py.status === 3) return { absent: `${why} (no row)` };
  if ((py.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
    return { absent: `PyTorch yardstick: ${python} not found (no row)` };
  if (py.status !== 0) throw new Error(`PyTorch yardstick failed: ${why}`);
  const r = JSON.parse(py.stdout.trim().split('\n').pop()!) as TorchEmbedRow;
  return { row: { ...r, backbone } };
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
