/** `rank1 bench --embed`'s measurement: every engine reported on the same real photos (no timing assertions). */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { initBackend } from '../../../src-main/engine/backends/index.js';
import { benchEmbed } from '../../../src-main/engine/bench.js';
import { SHARED } from '../../shared-data.js';

let home: string;
beforeAll(async () => {
  await initBackend('wasm');
  home = await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-bench-embed-'));
  process.env.RANK1_HOME = home;
});
afterAll(async () => {
  await fs.rm(home, { recursive: true, force: true });
});

it('reports decode, tfjs, ONNX Runtime and raw onnxruntime-node for the same photos', async () => {
  const dir = `${SHARED}/data/cifar10/train/cat`;
  const files = (await fs.readdir(dir))
    .sort()
    .slice(0, 4)
    .map((f) => path.join(dir, f));
  const rows = await benchEmbed({ backbone: 'mobilenet-v1-0.25', files, size: 32, repeats: 1 });
  expect(rows.map((r) => [r.phase, r.backend])).toEqual([
    ['decode', 'sharp'],
    ['embed', 'tfjs'],
    ['embed', 'onnxruntime'],
    ['embed', 'onnxruntime-raw'],
  ]);
  for (const r of rows) {
    expect(r).toMatchObject({ backbone: 'mobilenet-v1-0.25', images: 4, size: 32 });
    expect(r.images_per_s).toBeGreaterThan(0);
  }
  expect(rows[2]!.device).toMatch(/^ONNX Runtime/);
});
