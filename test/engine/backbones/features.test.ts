/**
 * The feature cache with a counting fake backbone (its embedding is a known function of the
 * pixels), so hits, partial recomputation and damage handling are visible as backbone calls.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embedExamples, featuresDir, type Backbone } from '../../../src-main/engine/backbones/index.js';
import type { ExampleSet } from '../../../src-main/data/types.js';
import { testImages } from './server.js';

let home: string;
beforeAll(async () => {
  home = await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-features-'));
  process.env.RANK1_HOME = home;
});
afterAll(async () => {
  await fs.rm(home, { recursive: true, force: true });
});

const SIZE = 4;
const PER = SIZE * SIZE * 3;

/** Embedding = [sum of pixels, first pixel, image count in this call]; records every call. */
function fakeBackbone(sha = 'f'.repeat(64)): Backbone & { calls: number[] } {
  const calls: number[] = [];
  return {
    name: 'fake',
    sha256: sha,
    embeddingSize: 2,
    calls,
    async embed(px, n) {
      calls.push(n);
      const out = new Float32Array(n * 2);
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let k = 0; k < PER; k++) s += px[i * PER + k]!;
        out[i * 2] = s;
        out[i * 2 + 1] = px[i * PER]!;
      }
      return out;
    },
    dispose() {},
  };
}

function memorySet(px: Uint8Array, n: number, prefix = 'img'): ExampleSet & { px: Uint8Array } {
  return {
    px,
    count: n,
    height: SIZE,
    width: SIZE,
    channels: 3,
    labels: Int32Array.from({ length: n }, (_, i) => i % 3),
    files: Array.from({ length: n }, (_, i) => `/data/${prefix}${i}.png`),
    read: async (idx) => {
      const out = new Uint8Array(idx.length * PER);
      Array.from(idx).forEach((i, k) => out.set(px.subarray(i * PER, (i + 1) * PER), k * PER));
      return out;
    },
  };
}

const expected = (px: Uint8Array, i: number) => [
  px.subarray(i * PER, (i + 1) * PER).reduce((a, b) => a + b, 0),
  px[i * PER]!,
];

describe('feature cache', () => {
  it('embeds in batches once, then serves the second call with no backbone calls', async () => {
    const set = memorySet(testImages(70, SIZE, 3), 70);
    const bb = fakeBackbone();
    const progress: number[] = [];
    const first = await embedExamples(bb, set, { onProgress: (d) => progress.push(d) });
    expect(bb.calls).toEqual([32, 32, 6]);
    expect(progress).toEqual([32, 64, 70]);
    expect(first).toMatchObject({ count: 70, dim: 2, computed: 70, cached: 0 });
    expect(first.labels).toBe(set.labels);
    expect(Array.from(await first.read([69, 0]))).toEqual([...expected(set.px, 69), ...expected(set.px, 0)]);
    expect(path.dirname(first.file)).toBe(featuresDir(bb.sha256));
    expect(first.file.startsWith(path.join(home, 'features', 'ffffffffffffffff'))).toBe(true);

    const second = await embedExamples(bb, set);
    expect(bb.calls).toEqual([32, 32, 6]);
    expect(second).toMatchObject({ computed: 0, cached: 70 });
    expect(Array.from(await second.read([5, 6, 7]))).toEqual(Array.from(await first.read([5, 6, 7])));
  });

  it('re-embeds only images whose pixels changed under the same name', async () => {
    const set = memorySet(testImages(40, SIZE, 3, 2), 40, 'chg');
    const bb = fakeBackbone();
    await embedExamples(bb, set);
    bb.calls.length = 0;
    set.px[3 * PER] ^= 0x55;
    set.px[35 * PER + 1] ^= 0x55;
    const again = await embedExamples(bb, set);
    expect(bb.calls).toEqual([1, 1]);
    expect(again.computed).toBe(2);
    expect(Array.from(await again.read([3, 35]))).toEqual([...expected(set.px, 3), ...expected(set.px, 35)]);
    bb.calls.length = 0;
    expect((await embedExamples(bb, set)).computed).toBe(0);
  });

  it('keys on the file list and the backbone: another set or backbone misses', async () => {
    const px = testImages(10, SIZE, 3, 4);
    const bb = fakeBackbone();
    await embedExamples(bb, memorySet(px, 10, 'a'));
    expect((await embedExamples(bb, memorySet(px, 10, 'b'))).computed).toBe(10);
    expect((await embedExamples(fakeBackbone('e'.repeat(64)), memorySet(px, 10, 'a'))).computed).toBe(10);
  });

  it('recomputes a damaged or truncated bin instead of trusting it', async () => {
    const set = memorySet(testImages(20, SIZE, 3, 6), 20, 'dmg');
    const bb = fakeBackbone();
    const first = await embedExamples(bb, set);
    const good = await fs.readFile(first.file);
    const bad = Buffer.from(good);
    bad[9] ^= 0xff;
    await fs.writeFile(first.file, bad);
    expect((await embedExamples(bb, set)).computed).toBe(20);
    await fs.writeFile(first.file, good.subarray(0, 40));
    expect((await embedExamples(bb, set)).computed).toBe(20);
    await fs.writeFile(first.file.replace(/\.bin$/, '.json'), '{not json');
    const fixed = await embedExamples(bb, set);
    expect(fixed.computed).toBe(20);
    expect(await fs.readFile(first.file)).toEqual(good);
    expect((await fs.readdir(path.dirname(first.file))).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('stops when aborted', async () => {
    const set = memorySet(testImages(100, SIZE, 3, 8), 100, 'abort');
    const ac = new AbortController();
    const bb = fakeBackbone();
    const p = embedExamples(bb, set, { signal: ac.signal, onProgress: (d) => d >= 32 && ac.abort() });
    await expect(p).rejects.toThrow(/abort/i);
    expect(bb.calls).toEqual([32]);
  });
});
