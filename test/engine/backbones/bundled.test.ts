/**
 * Offline by default (issue 15): MobileNet v1 0.25 ships in resources/backbones and is used with no
 * download at all, after the same pin check as a downloaded copy.
 */
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { initBackend } from '../../../src-main/engine/backends/index.js';
import {
  BUILTIN_BACKBONES,
  loadBackbone,
  modelFolderChecksum,
  prepareTransfer,
} from '../../../src-main/engine/backbones/index.js';
import { bundledFolder } from '../../../src-main/engine/backbones/bundled.js';
import type { ExampleSet } from '../../../src-main/data/types.js';
import { cifarPhotos } from './photos.js';
import { V1 } from './server.js';

const V1_SPEC = BUILTIN_BACKBONES.find((b) => b.name === 'mobilenet-v1-0.25')!;
let home: string;

beforeAll(async () => {
  await initBackend('wasm');
  home = await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-bundled-'));
  process.env.RANK1_HOME = home;
});
afterAll(async () => {
  vi.restoreAllMocks();
  await fs.rm(home, { recursive: true, force: true });
});

function photoSet(px: Uint8Array, n: number, size: number): ExampleSet {
  const per = size * size * 3;
  return {
    count: n,
    height: size,
    width: size,
    channels: 3,
    labels: Int32Array.from({ length: n }, (_, i) => i % 2),
    files: Array.from({ length: n }, (_, i) => `/photos/p${i}.jpg`),
    read: async (idx) => {
      const out = new Uint8Array(idx.length * per);
      Array.from(idx).forEach((i, k) => out.set(px.subarray(i * per, (i + 1) * per), k * per));
      return out;
    },
  };
}

describe('the backbone shipped with the app', () => {
  it('is a byte copy of the pinned MobileNet v1 0.25, with its licence and notice', async () => {
    const dir = bundledFolder(V1_SPEC)!;
    expect(dir).toBeTruthy();
    expect(await modelFolderChecksum(dir)).toBe(V1_SPEC.pin.sha256);
    expect(await modelFolderChecksum(V1)).toBe(V1_SPEC.pin.sha256);
    expect(await fs.readFile(path.join(dir, 'LICENSE'), 'utf8')).toMatch(/Apache License\s+Version 2\.0/);
    expect(await fs.readFile(path.join(dir, 'NOTICE'), 'utf8')).toMatch(
      /tfjs-models\/tfjs\/mobilenet_v1_0\.25_224/,
    );
  });

  it('--backbone mobilenet-v1-0.25 embeds with outbound sockets blocked and no download', async () => {
    const connect = vi.spyOn(net.Socket.prototype, 'connect').mockImplementation(() => {
      throw new Error('outbound sockets are blocked in this test');
    });
    const fetchSpy = vi.spyOn(globalThis, 'fetch').mockRejectedValue(new Error('offline'));
    try {
      const px = await cifarPhotos(6, 32);
      const ds = {
        splits: { train: photoSet(px, 4, 32), val: photoSet(px.subarray(4 * 32 * 32 * 3), 2, 32) },
      };
      const backbone = await prepareTransfer('mobilenet-v1-0.25', ds, {
        fetch: () => Promise.reject(new Error('the download function was called')),
      });
      expect(backbone).toMatchObject({
        name: 'mobilenet-v1-0.25',
        sha256: V1_SPEC.pin.sha256,
        embeddingSize: 256,
      });
      const feats = await backbone!.train.read([0, 1, 2, 3]);
      expect(feats.length).toBe(4 * 256);
      expect(feats.every(Number.isFinite)).toBe(true);
      expect(new Set(feats).size).toBeGreaterThan(100);
      expect(fetchSpy).not.toHaveBeenCalled();
      expect(connect).not.toHaveBeenCalled();
      // Nothing was downloaded into the cache.
      await expect(fs.stat(path.join(home, 'backbones', 'mobilenet-v1-0.25'))).rejects.toThrow();
    } finally {
      connect.mockRestore();
      fetchSpy.mockRestore();
    }
  });

  it('a backbone without a shipped copy still takes the download path', async () => {
    const bb = await loadBackbone(
      { name: 'mobilenet-v2-0.35' },
      { fetch: () => Promise.reject(new Error('no network')) },
    ).catch((e: Error) => e);
    // v2 ships no copy: it still needs the download (which fails here, with the offline message).
    expect((bb as Error).message).toMatch(/cannot download backbone "mobilenet-v2-0.35"/);
  });
});
