/** `rank1 bench` runs rank1-resnet20 on the wasm backend and reports both phases (tiny batch: a smoke test, not a timing). */
import fs from 'node:fs';
import os from 'node:os';
import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import { SHARED } from '../shared-data.js';
import { runCli } from './run-cli.js';

describe('rank1 bench', () => {
  it('prints one JSON line per phase with backend, device and images/s', () => {
    const r = runCli(['bench', '--batch', '4', '--steps', '1', '--json'], { timeout: 300_000 });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.phase)).toEqual(['train', 'predict']);
    for (const l of lines) {
      expect(l).toMatchObject({ backend: 'wasm', batch: 4, members: 4, model: 'rank1-resnet20' });
      expect(l.images_per_s).toBeGreaterThan(0);
      expect(l.device).toMatch(/wasm/);
    }
  }, 300_000);

  it('refuses a bad option with exit code 2', () => {
    const r = runCli(['bench', '--batch', 'zero']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--batch/);
  });

  it('bench --embed adds the PyTorch yardstick row when python has torchvision, one line and no row when not', () => {
    // Stand-in pythons (the real yardstick is test/bench/torch_mobilenet_embed.py): one prints a
    // row as the script does, one exits 3 as the script does without torch / torchvision.
    const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'rank1-bench-torch-'));
    const present = nodePath.join(dir, 'present.sh');
    const absent = nodePath.join(dir, 'absent.sh');
    fs.writeFileSync(
      present,
      `#!/bin/sh\necho '{"phase":"embed","backend":"pytorch","backbone":"v1-0.25","images_per_s":9,"device":"cpu, stand-in","images":2,"size":32}'\n`,
      { mode: 0o755 },
    );
    fs.writeFileSync(
      absent,
      `#!/bin/sh\necho 'PyTorch yardstick: torchvision is not installed' >&2\nexit 3\n`,
      {
        mode: 0o755,
      },
    );
    const bench = (python: string) =>
      runCli(
        [
          'bench',
          '--embed',
          '--images',
          nodePath.join(SHARED, 'data/cifar10/train/cat'),
          '--count',
          '2',
          '--size',
          '32',
          '--json',
        ],
        { home: dir, env: { PYTHON: python }, timeout: 300_000 },
      );
    try {
      const withTorch = bench(present);
      expect(withTorch.status, withTorch.stderr).toBe(0);
      const rows = withTorch.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(rows.map((r) => r.backend)).toEqual([
        'sharp',
        'tfjs',
        'onnxruntime',
        'onnxruntime-raw',
        'pytorch',
      ]);
      expect(rows.at(-1)).toMatchObject({
        phase: 'embed',
        backbone: 'mobilenet-v1-0.25',
        device: 'cpu, stand-in',
      });

      const without = bench(absent);
      expect(without.status, without.stderr).toBe(0);
      expect(without.stdout).not.toMatch(/pytorch/);
      expect(without.stderr).toMatch(/^PyTorch yardstick: torchvision is not installed \(no row\)$/m);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
