/**
 * Built-in backbones through the real download path: the real weights in ../shared/models are
 * served from 127.0.0.1 and fetched, checksummed and cached exactly as the official copies would be.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../src-main/engine/backends/index.js';
import { folderHandler, readModelFolder } from '../../../src-main/engine/backbones/model-files.js';
import {
  BackboneUnavailableError,
  BUILTIN_BACKBONES,
  embedExamples,
  loadBackbone,
  type DownloadProgress,
} from '../../../src-main/engine/backbones/index.js';
import type { ExampleSet } from '../../../src-main/data/types.js';
import { serveFolder, testImages, V2, type StaticServer } from './server.js';
import { SHARED } from '../../shared-data.js';
import { saveLayersFolder } from '../../tfjs-folder.js';

let server: StaticServer;
let home: string;
const cached = (name: string) => path.join(home, 'backbones', name);

beforeAll(async () => {
  await initBackend('wasm');
  home = await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-backbones-'));
  process.env.RANK1_HOME = home;
  server = await serveFolder(`${SHARED}/models`);
});

afterAll(async () => {
  await server?.close();
  await fs.rm(home, { recursive: true, force: true });
});

function setOf(px: Uint8Array, n: number, size: number, channels: 1 | 3): ExampleSet {
  const per = size * size * channels;
  return {
    count: n,
    height: size,
    width: size,
    channels,
    labels: Int32Array.from({ length: n }, (_, i) => i % 2),
    files: Array.from({ length: n }, (_, i) => `/data/img${i}.png`),
    read: async (idx) => {
      const out = new Uint8Array(idx.length * per);
      Array.from(idx).forEach((i, k) => out.set(px.subarray(i * per, (i + 1) * per), k * per));
      return out;
    },
  };
}

describe('built-in backbones over HTTP', () => {
  it.each(BUILTIN_BACKBONES.map((b) => [b.name, b.embeddingSize] as const))(
    '%s downloads, verifies and embeds (%i values)',
    async (name, dim) => {
      const events: DownloadProgress[] = [];
      const before = server.requests.length;
      const bb = await loadBackbone(
        { name },
        { baseUrl: server.url, bundled: false, onProgress: (p) => events.push(p) },
      );
      try {
        expect(bb.name).toBe(name);
        expect(bb.sha256).toBe(BUILTIN_BACKBONES.find((b) => b.name === name)!.pin.sha256);
        expect(bb.embeddingSize).toBe(dim);
        expect(server.requests.length - before).toBeGreaterThan(1);
        expect(events.at(-1)?.phase).toBe('done');
        expect(events.filter((e) => e.phase === 'download').map((e) => e.filesDone)).toEqual(
          Array.from({ length: events[0]!.filesTotal }, (_, i) => i + 1),
        );
        expect(await fs.readFile(path.join(cached(name), 'model.json'))).toBeTruthy();

        const rgb = testImages(3, 32, 3);
        const a = await bb.embed(rgb, 3, [32, 32, 3]);
        expect(a.length).toBe(3 * dim);
        expect(a.every(Number.isFinite)).toBe(true);
        expect(Array.from(a).some((v) => v !== 0)).toBe(true);
        expect(Array.from(await bb.embed(rgb, 3, [32, 32, 3]))).toEqual(Array.from(a));
        // Each image is embedded independently of its batch.
        expect(Array.from(await bb.embed(rgb.subarray(32 * 32 * 3), 1, [32, 32, 3]))).toEqual(
          Array.from(a.subarray(dim, 2 * dim)),
        );
        // Grey is tiled to RGB: a grey image equals its RGB copy.
        const grey = testImages(1, 28, 1, 7);
        const tiled = Uint8Array.from({ length: 28 * 28 * 3 }, (_, i) => grey[Math.floor(i / 3)]!);
        const g = await bb.embed(grey, 1, [28, 28, 1]);
        const t = await bb.embed(tiled, 1, [28, 28, 3]);
        expect(Math.max(...g.map((v, i) => Math.abs(v - t[i]!)))).toBeLessThan(1e-5);
      } finally {
        bb.dispose();
      }
    },
  );

  it('uses the cache the second time (no requests) and RANK1_BACKBONE_BASE_URL as the base', async () => {
    process.env.RANK1_BACKBONE_BASE_URL = server.url;
    try {
      const first = await loadBackbone({ name: 'mobilenet-v1-0.25' }, { bundled: false });
      first.dispose();
      const before = server.requests.length;
      const again = await loadBackbone({ name: 'mobilenet-v1-0.25' }, { bundled: false });
      again.dispose();
      expect(server.requests.length).toBe(before);
    } finally {
      delete process.env.RANK1_BACKBONE_BASE_URL;
    }
  });

  it('re-fetches a corrupted or truncated cached shard and leaves the feature cache alone', async () => {
    const name = 'mobilenet-v1-0.25';
    const bb = await loadBackbone({ name }, { baseUrl: server.url, bundled: false });
    const set = setOf(testImages(4, 32, 3, 3), 4, 32, 3);
    const feats = await embedExamples(bb, set);
    bb.dispose();
    const featBytes = await fs.readFile(feats.file);
    const featStat = await fs.stat(feats.file);

    const shard = path.join(cached(name), 'group3-shard1of1');
    const good = await fs.readFile(shard);
    for (const damage of ['flip', 'truncate'] as const) {
      if (damage === 'flip') {
        const bad = Buffer.from(good);
        bad[bad.length >> 1] ^= 0xff;
        await fs.writeFile(shard, bad);
      } else {
        await fs.writeFile(shard, good.subarray(0, good.length - 100));
      }
      const events: DownloadProgress[] = [];
      const before = server.requests.length;
      const again = await loadBackbone(
        { name },
        { baseUrl: server.url, bundled: false, onProgress: (p) => events.push(p) },
      );
      expect(server.requests.slice(before)).toContain('/mobilenet_v1_0.25_224/group3-shard1of1');
      expect(events[0]).toMatchObject({
        phase: 'redownload',
        reason: damage === 'flip' ? expect.stringMatching(/SHA-256/) : expect.stringMatching(/bytes/),
      });
      expect(again.sha256).toBe(bb.sha256);
      expect(await fs.readFile(shard)).toEqual(good);

      // The features were not touched, and they are still a hit (no backbone calls).
      expect(await fs.readFile(feats.file)).toEqual(featBytes);
      expect((await fs.stat(feats.file)).mtimeMs).toBe(featStat.mtimeMs);
      const hit = await embedExamples(
        { ...again, embed: () => Promise.reject(new Error('backbone called')) },
        set,
      );
      expect(hit.computed).toBe(0);
      expect(Array.from(await hit.read([0, 3]))).toEqual(Array.from(await feats.read([0, 3])));
      again.dispose();
    }
  });

  it('re-fetches a cached mobilenet-v2-0.35 whose backbone weights changed (weights pin)', async () => {
    const name = 'mobilenet-v2-0.35';
    (await loadBackbone({ name }, { baseUrl: server.url })).dispose();
    const file = path.join(cached(name), 'weights.bin');
    const good = await fs.readFile(file);
    const bad = Buffer.from(good);
    bad[1000] ^= 1; // inside the first convolution's kernel
    await fs.writeFile(file, bad);
    const events: DownloadProgress[] = [];
    const again = await loadBackbone({ name }, { baseUrl: server.url, onProgress: (p) => events.push(p) });
    again.dispose();
    expect(events[0]).toMatchObject({ phase: 'redownload', reason: expect.stringMatching(/SHA-256/) });
    expect(await fs.readFile(file)).toEqual(good);
  }, 240_000);

  it('refuses a download that does not match the recorded SHA-256 and caches nothing', async () => {
    const mirror = await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-mirror-'));
    const tampered = await serveFolder(mirror);
    try {
      const src = `${SHARED}/models/mobilenet_v2_0.35_224_tm`;
      await fs.cp(src, path.join(mirror, 'mobilenet_v2_0.35_224_tm'), { recursive: true });
      const w = path.join(mirror, 'mobilenet_v2_0.35_224_tm', 'weights.bin');
      const b = Buffer.from(await fs.readFile(w));
      b[1000] ^= 1;
      await fs.writeFile(w, b);
      await fs.rm(cached('mobilenet-v2-0.35'), { recursive: true, force: true });
      await expect(loadBackbone({ name: 'mobilenet-v2-0.35' }, { baseUrl: tampered.url })).rejects.toThrow(
        /does not match its recorded SHA-256/,
      );
      await expect(fs.stat(cached('mobilenet-v2-0.35'))).rejects.toThrow();
      expect((await fs.readdir(path.join(home, 'backbones'))).filter((f) => f.includes('download'))).toEqual(
        [],
      );
    } finally {
      await tampered.close();
      await fs.rm(mirror, { recursive: true, force: true });
    }
  });

  it('accepts mobilenet-v2-0.35 packaged as the official plain no_top network, with the same embeddings', async () => {
    // The official folder is Keras Applications' no_top MobileNetV2 (output out_relu, 7×7×1280);
    // the reference copy holds that network frozen inside a Teachable Machine export. Re-package
    // it the official way and serve it under the mirror path: the weights pin must accept it and
    // the embeddings must be those of the Teachable Machine packaging.
    const tmBackbone = await loadBackbone({ name: 'mobilenet-v2-0.35' }, { baseUrl: server.url });
    const rgb = testImages(2, 32, 3, 11);
    const expected = await tmBackbone.embed(rgb, 2, [32, 32, 3]);
    tmBackbone.dispose();

    const mirror = await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-mirror-'));
    const official = await serveFolder(mirror);
    try {
      const tm = await tf.loadLayersModel(folderHandler(await readModelFolder(V2)));
      const noTop = (tm.layers[0] as tf.LayersModel).layers[0] as tf.LayersModel;
      const plain = tf.model({ inputs: noTop.inputs, outputs: noTop.outputs });
      expect(plain.outputs[0]!.shape).toEqual([null, 7, 7, 1280]);
      const out = path.join(mirror, 'mobilenet_v2_0.35_224_tm');
      await saveLayersFolder(plain, out);
      tm.dispose();
      await fs.rm(cached('mobilenet-v2-0.35'), { recursive: true, force: true });
      const bb = await loadBackbone({ name: 'mobilenet-v2-0.35' }, { baseUrl: official.url });
      try {
        expect(official.requests).toContain('/mobilenet_v2_0.35_224_tm/model.json');
        expect(bb.sha256).toBe(BUILTIN_BACKBONES.find((b) => b.name === 'mobilenet-v2-0.35')!.pin.sha256);
        const got = await bb.embed(rgb, 2, [32, 32, 3]);
        expect(Math.max(...got.map((v, i) => Math.abs(v - expected[i]!)))).toBeLessThan(1e-5);
      } finally {
        bb.dispose();
      }
    } finally {
      await official.close();
      await fs.rm(mirror, { recursive: true, force: true });
      await fs.rm(cached('mobilenet-v2-0.35'), { recursive: true, force: true });
    }
  });

  it('offline: a clear error that points to importing a backbone', async () => {
    const down = await serveFolder(`${SHARED}/models`);
    const url = down.url;
    await down.close();
    await fs.rm(cached('mobilenet-v2-0.35'), { recursive: true, force: true });
    const err = await loadBackbone({ name: 'mobilenet-v2-0.35' }, { baseUrl: url }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackboneUnavailableError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/cannot download backbone "mobilenet-v2-0.35"/);
    expect(msg).toMatch(/offline/);
    expect(msg).toMatch(/import a backbone/i);
    expect(msg).toMatch(/PATH:/);
    expect(msg).toContain(url);
  });

  it('names an unknown backbone and the choices', async () => {
    await expect(loadBackbone({ name: 'resnet-152' })).rejects.toThrow(
      /unknown backbone "resnet-152": use mobilenet-v1-0.25, mobilenet-v2-0.35/,
    );
  });
});
