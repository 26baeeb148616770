/**
 * The backbone room's writes check the disk first (data/disk-space.ts): a built-in backbone's
 * download (the real MobileNet v1 weights served from 127.0.0.1), the cached copy of a catalog
 * backbone given by path (the real MobileNetV2, which the app does not ship) and the feature cache
 * (a fake backbone whose calls are counted). The free space is injected as `freeSpace`.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DISK_RESERVE, DiskSpaceError } from '../../../src-main/data/disk-space.js';
import { initBackend } from '../../../src-main/engine/backends/index.js';
import {
  embedExamples,
  featuresDir,
  loadBackbone,
  type Backbone,
} from '../../../src-main/engine/backbones/index.js';
import type { ExampleSet } from '../../../src-main/data/types.js';
import { serveFolder, testImages, V2, type StaticServer } from './server.js';
import { SHARED } from '../../shared-data.js';

let server: StaticServer;
let home: string;
const free = (bytes: number) => async () => bytes;

beforeAll(async () => {
  await initBackend('wasm');
  server = await serveFolder(`${SHARED}/models`);
});
beforeEach(async () => {
  home = await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-backbone-space-'));
  process.env.RANK1_HOME = home;
  return () => fs.rm(home, { recursive: true, force: true });
});
afterAll(async () => {
  await server?.close();
});

const listed = (dir: string) => fs.readdir(dir).catch(() => []);

describe('a built-in backbone download', () => {
  it('is refused in one line naming the backbone when it and the reserve do not fit; nothing is written', async () => {
    const err = await loadBackbone(
      { name: 'mobilenet-v1-0.25' },
      { baseUrl: server.url, bundled: false, freeSpace: free(DISK_RESERVE + 2 ** 20) },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiskSpaceError);
    expect((err as Error).message).toMatch(
      /^backbone "mobilenet-v1-0\.25": the download needs \d\.\d MB and the disk of the backbones folder has 257\.0 MB free; 256\.0 MB must stay free \(nothing was written\)$/,
    );
    expect(await listed(path.join(home, 'backbones'))).toEqual([]);
    const bb = await loadBackbone(
      { name: 'mobilenet-v1-0.25' },
      { baseUrl: server.url, bundled: false, freeSpace: free(DISK_RESERVE + 4 * 2 ** 20) },
    );
    bb.dispose();
    expect(await listed(path.join(home, 'backbones'))).toEqual(['mobilenet-v1-0.25']);
  });
});

describe('the cached copy of a catalog backbone given by path', () => {
  it('is skipped without room (the folder itself is used) and kept with room', async () => {
    const tight = await loadBackbone({ name: 'x', path: V2 }, { freeSpace: free(DISK_RESERVE) });
    expect(tight.name).toBe('mobilenet-v2-0.35');
    tight.dispose();
    expect(await listed(path.join(home, 'backbones'))).toEqual([]);
    const roomy = await loadBackbone(
      { name: 'x', path: V2 },
      { freeSpace: free(DISK_RESERVE + 8 * 2 ** 20) },
    );
    roomy.dispose();
    expect(await listed(path.join(home, 'backbones'))).toEqual(['mobilenet-v2-0.35']);
  });
});

const SIZE = 4;
const PER = SIZE * SIZE * 3;

/** Embedding = [sum of pixels, first pixel]; records every call. */
function fakeBackbone(): Backbone & { calls: number[] } {
  const calls: number[] = [];
  return {
    name: 'fake',
    sha256: 'e'.repeat(64),
    embeddingSize: 2,
    calls,
    async embed(px, n) {
      calls.push(n);
      const out = new Float32Array(n * 2);
      for (let i = 0; i < n; i++) {
        for (let k = 0; k < PER; k++) out[i * 2] += px[i * PER + k]!;
        out[i * 2 + 1] = px[i * PER]!;
      }
      return out;
    },
    dispose() {},
  };
}

function memorySet(n: number): ExampleSet {
  const px = testImages(n, SIZE, 3);
  return {
    count: n,
    height: SIZE,
    width: SIZE,
    channels: 3,
    labels: Int32Array.from({ length: n }, (_, i) => i % 2),
    files: Array.from({ length: n }, (_, i) => `/data/img${i}.png`),
    read: async (idx) => {
      const out = new Uint8Array(idx.length * PER);
      Array.from(idx).forEach((i, k) => out.set(px.subarray(i * PER, (i + 1) * PER), k * PER));
      return out;
    },
  };
}

describe('the feature cache', () => {
  it('is refused before any embedding when it and the reserve do not fit; a cache hit needs no room', async () => {
    const bb = fakeBackbone();
    const set = memorySet(10);
    const err = await embedExamples(bb, set, { freeSpace: free(DISK_RESERVE + 100) }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DiskSpaceError);
    expect((err as Error).message).toMatch(
      /^backbone "fake": the feature cache of 10 images needs 1 kB and the disk of the features folder has 256\.0 MB free; 256\.0 MB must stay free \(nothing was written\)$/,
    );
    expect(bb.calls).toEqual([]);
    expect(await listed(featuresDir(bb.sha256))).toEqual([]);
    const first = await embedExamples(bb, set, { freeSpace: free(DISK_RESERVE + 2 ** 20) });
    expect(first.computed).toBe(10);
    const again = await embedExamples(bb, set, { freeSpace: free(0) });
    expect(again.cached).toBe(10);
  });
});
