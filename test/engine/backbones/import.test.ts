/**
 * Importing a backbone from a local folder: a LayersModel (tiny one saved here, and the real
 * MobileNet v1 folder) and a hand-written GraphModel, checked against a hand computation of the
 * documented preprocessing (resize, grey → RGB, x/127.5 − 1, global average pool).
 */
import { execFileSync } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src-main/engine/backends/index.js';
import {
  backboneName,
  loadBackbone,
  modelFolderChecksum,
  ModelFolderError,
} from '../../../src-main/engine/backbones/index.js';
import { importedName } from '../../../src-main/engine/backbones/imported.js';
import { testImages, V1 } from './server.js';
import { saveLayersFolder } from '../../tfjs-folder.js';

let tmp: string;

beforeAll(async () => {
  await initBackend('wasm');
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-import-'));
  process.env.RANK1_HOME = path.join(tmp, 'home');
});
afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

/** Hand oracle: mean over pixels of (x/127.5 − 1), per channel, for images already at input size. */
function pooled(px: Uint8Array, n: number, size: number, c: 1 | 3): number[][] {
  return Array.from({ length: n }, (_, b) =>
    [0, 1, 2].map((ch) => {
      let s = 0;
      for (let i = 0; i < size * size; i++)
        s += px[(b * size * size + i) * c + (c === 1 ? 0 : ch)]! / 127.5 - 1;
      return s / (size * size);
    }),
  );
}

describe('import a backbone', () => {
  it('a LayersModel folder, with the embedding output named (spatial output → global average pool)', async () => {
    const input = tf.input({ shape: [8, 8, 3] });
    const conv = tf.layers
      .conv2d({ filters: 4, kernelSize: 1, useBias: false, name: 'feat', kernelInitializer: 'ones' })
      .apply(input) as tf.SymbolicTensor;
    const head = tf.layers
      .dense({ units: 2, name: 'head' })
      .apply(tf.layers.flatten().apply(conv)) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: head });
    const dir = path.join(tmp, 'tiny');
    await saveLayersFolder(model, dir);
    model.dispose();

    const bb = await loadBackbone({ name: '', path: dir, output: 'feat' });
    try {
      // A model stores the registered copy's name (no path), which the model.json schema accepts.
      expect(bb.name).toBe(importedName(await modelFolderChecksum(dir), 'feat'));
      expect(backboneName(bb.name)).toBe(bb.name);
      const copy = path.join(process.env.RANK1_HOME!, 'backbones', bb.name);
      expect(await modelFolderChecksum(copy)).toBe(await modelFolderChecksum(dir));
      expect(bb.sha256).toBe(await modelFolderChecksum(dir));
      expect(bb.embeddingSize).toBe(4);
      const px = testImages(2, 8, 3);
      const e = await bb.embed(px, 2, [8, 8, 3]);
      // 1×1 conv with ones = sum over channels, then averaged over pixels.
      const want = pooled(px, 2, 8, 3).map((m) => m[0]! + m[1]! + m[2]!);
      for (let b = 0; b < 2; b++) for (let k = 0; k < 4; k++) expect(e[b * 4 + k]).toBeCloseTo(want[b]!, 5);
      // The registered name alone (as a model's meta stores it) loads the same backbone, also
      // after the original folder is gone.
      await fs.rename(dir, `${dir}-moved`);
      const again = await loadBackbone({ name: bb.name });
      await fs.rename(`${dir}-moved`, dir);
      expect(again.sha256).toBe(bb.sha256);
      expect(Array.from(await again.embed(px, 2, [8, 8, 3]))).toEqual(Array.from(e));
      again.dispose();
    } finally {
      bb.dispose();
    }
    await expect(loadBackbone({ name: `PATH:${dir}#nope` })).rejects.toThrow(/no layer named "nope"/);
  });

  it('a GraphModel folder with a named output node, resized in-graph from the stored size', async () => {
    const dir = path.join(tmp, 'graph');
    await fs.mkdir(dir, { recursive: true });
    const dims = (...d: number[]) => ({ dim: d.map((size) => ({ size: String(size) })) });
    const json = {
      format: 'graph-model',
      generatedBy: 'hand',
      convertedBy: 'hand',
      modelTopology: {
        node: [
          {
            name: 'x',
            op: 'Placeholder',
            attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: dims(-1, 4, 4, 3) } },
          },
          {
            name: 'axes',
            op: 'Const',
            attr: {
              dtype: { type: 'DT_INT32' },
              value: { tensor: { dtype: 'DT_INT32', tensorShape: dims(2) } },
            },
          },
          {
            name: 'w',
            op: 'Const',
            attr: {
              dtype: { type: 'DT_FLOAT' },
              value: { tensor: { dtype: 'DT_FLOAT', tensorShape: dims(3, 2) } },
            },
          },
          {
            name: 'pool',
            op: 'Mean',
            input: ['x', 'axes'],
            attr: { keep_dims: { b: false }, T: { type: 'DT_FLOAT' }, Tidx: { type: 'DT_INT32' } },
          },
          {
            name: 'emb',
            op: 'MatMul',
            input: ['pool', 'w'],
            attr: { transpose_a: { b: false }, transpose_b: { b: false }, T: { type: 'DT_FLOAT' } },
          },
          { name: 'out', op: 'Relu', input: ['emb'], attr: { T: { type: 'DT_FLOAT' } } },
        ],
        library: {},
        versions: {},
      },
      weightsManifest: [
        {
          paths: ['group1-shard1of1.bin'],
          weights: [
            { name: 'axes', shape: [2], dtype: 'int32' },
            { name: 'w', shape: [3, 2], dtype: 'float32' },
          ],
        },
      ],
    };
    const W = [1, -1, 2, 0.5, -3, 0.25];
    const bytes = new Uint8Array(8 + 24);
    new Int32Array(bytes.buffer, 0, 2).set([1, 2]);
    new Float32Array(bytes.buffer, 8, 6).set(W);
    await fs.writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
    await fs.writeFile(path.join(dir, 'group1-shard1of1.bin'), bytes);

    const bb = await loadBackbone({ name: `PATH:${dir}#emb` });
    try {
      expect(bb.embeddingSize).toBe(2);
      // Stored at 4×4 grey: no resize, tiled to RGB.
      const grey = testImages(3, 4, 1, 5);
      const e = await bb.embed(grey, 3, [4, 4, 1]);
      const m = pooled(grey, 3, 4, 1);
      for (let b = 0; b < 3; b++) {
        for (let k = 0; k < 2; k++)
          expect(e[b * 2 + k]).toBeCloseTo(
            m[b]![0]! * W[k]! + m[b]![1]! * W[2 + k]! + m[b]![2]! * W[4 + k]!,
            5,
          );
      }
      // Stored at 8×8: bilinear resize to 4×4 with half-pixel centres = the mean of each 2×2 block.
      const big = testImages(1, 8, 3, 9);
      const blocks = new Float32Array(4 * 4 * 3);
      for (let y = 0; y < 4; y++)
        for (let x = 0; x < 4; x++)
          for (let c = 0; c < 3; c++) {
            let s = 0;
            for (const [dy, dx] of [
              [0, 0],
              [0, 1],
              [1, 0],
              [1, 1],
            ] as const)
              s += big[((2 * y + dy) * 8 + 2 * x + dx) * 3 + c]!;
            blocks[(y * 4 + x) * 3 + c] = s / 4;
          }
      const mean = [0, 1, 2].map(
        (c) =>
          Array.from({ length: 16 }, (_, i) => blocks[i * 3 + c]! / 127.5 - 1).reduce((a, b) => a + b) / 16,
      );
      const eb = await bb.embed(big, 1, [8, 8, 3]);
      for (let k = 0; k < 2; k++)
        expect(eb[k]).toBeCloseTo(mean[0]! * W[k]! + mean[1]! * W[2 + k]! + mean[2]! * W[4 + k]!, 4);
    } finally {
      bb.dispose();
    }
    // The default output (the graph's own output, a ReLU) also loads.
    const whole = await loadBackbone({ name: `PATH:${dir}` });
    expect(whole.embeddingSize).toBe(2);
    whole.dispose();
  });

  it('the real MobileNet v1 folder imports with the same SHA-256 as the built-in', async () => {
    const bb = await loadBackbone({ name: `PATH:${V1}#global_average_pooling2d_1` });
    expect(bb.sha256).toBe('6cdef2f108c61160bd58317991da35f97cf10ae8dd271bdea898926ec676f03e');
    expect(bb.embeddingSize).toBe(256);
    bb.dispose();
  });

  it('explains a folder that is not a model', async () => {
    const dir = path.join(tmp, 'empty');
    await fs.mkdir(dir, { recursive: true });
    await expect(loadBackbone({ name: `PATH:${dir}` })).rejects.toThrow(ModelFolderError);
    await fs.writeFile(
      path.join(dir, 'model.json'),
      '{"modelTopology": {}, "weightsManifest": [{"paths": ["../../etc/passwd"], "weights": []}]}',
    );
    await expect(loadBackbone({ name: `PATH:${dir}` })).rejects.toThrow(/leaves the model folder/);
  });

  it('refuses a folder whose model.json or weight file is a link leading out of it, or a named pipe, naming the file', async () => {
    // The folder was granted; what its links point at was not (granted folders are a wall).
    const theirs = path.join(tmp, 'elsewhere');
    await fs.cp(V1, theirs, { recursive: true });
    for (const name of ['model.json', 'group1-shard1of1']) {
      const dir = path.join(tmp, `linked-${name}`);
      await fs.cp(V1, dir, { recursive: true });
      await fs.rm(path.join(dir, name));
      await fs.symlink(path.join(theirs, name), path.join(dir, name));
      await expect(modelFolderChecksum(dir)).rejects.toThrow(
        new RegExp(`${name.replace('.', '\\.')} is a link`),
      );
    }
    const dir = path.join(tmp, 'piped');
    await fs.cp(V1, dir, { recursive: true });
    const shard = path.join(dir, 'group1-shard1of1');
    await fs.rm(shard);
    execFileSync('mkfifo', [shard]);
    try {
      await expect(modelFolderChecksum(dir)).rejects.toThrow(/group1-shard1of1 is not a regular file/);
    } finally {
      // A red run leaves a reader blocked on the pipe: a writer that opens and closes it lets it go.
      const h = await fs.open(shard, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK).catch(() => undefined);
      await h?.close();
    }
  }, 20_000);

  it('checksum ignores JSON formatting but not content', async () => {
    const dir = path.join(tmp, 'reformatted');
    await fs.cp(V1, dir, { recursive: true });
    const j = JSON.parse(await fs.readFile(path.join(dir, 'model.json'), 'utf8')) as Record<string, unknown>;
    const reordered = {
      weightsManifest: j.weightsManifest,
      generatedBy: 'someone',
      modelTopology: j.modelTopology,
    };
    await fs.writeFile(path.join(dir, 'model.json'), JSON.stringify(reordered, null, 2));
    const sum = await modelFolderChecksum(dir);
    expect(sum).toBe('6cdef2f108c61160bd58317991da35f97cf10ae8dd271bdea898926ec676f03e');
    const shard = path.join(dir, 'group1-shard1of1');
    const b = Buffer.from(await fs.readFile(shard));
    b[0] ^= 1;
    await fs.writeFile(shard, b);
    expect(await modelFolderChecksum(dir)).not.toBe(sum);
  });
});
