/**
 * `rank1 bench [--batch 128] [--members 4] [--backend …] [--torch SCRIPT] --json`: throughput of
 * rank1-resnet20 on random data; with --torch, the PyTorch yardstick runs in the same process
 * tree right after, so the two figures form a ratio from one run on one machine.
 */
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import type { Command } from 'commander';
import { benchResnet20, initBackend, type BackendName } from '../engine/index.js';
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
    .option('--json', 'JSON lines')
    .action(
      (o: {
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
