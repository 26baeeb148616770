/**
 * Frozen backbones on ONNX Runtime (issue 18): converted once, verified against TF.js on the first
 * real photos, cached beside the backbones with its SHA-256; TF.js is the fallback with a reason.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src-main/engine/backends/index.js';
import { loadBackbone } from '../../../src-main/engine/backbones/index.js';
import { onnxCacheFile, VERIFY_TOLERANCE } from '../../../src-main/engine/backbones/onnx-embedder.js';
import { readMetadata } from '../../../src-main/engine/onnx/graph.js';
import { cifarPhotos } from './photos.js';
import { V2 } from './server.js';

let home: string;
let photos: Uint8Array;
const N = 10;

beforeAll(async () => {
  await initBackend('wasm');
  home = await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-onnx-embed-'));
  process.env.RANK1_HOME = home;
  photos = await cifarPhotos(N, 32);
});
afterAll(async () => {
  await fs.rm(home, { recursive: true, force: true });
});

const maxDiff = (a: Float32Array, b: Float32Array) =>
  a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe('ONNX Runtime embedder', () => {
  it('224-px photos (no resize in the graph) give the same features as TF.js', async () => {
    const big = await cifarPhotos(3, 224);
    const tfjs = await loadBackbone({ name: 'mobilenet-v1-0.25' }, { engine: 'tfjs' });
    const onnx = await loadBackbone({ name: 'mobilenet-v1-0.25' }, { engine: 'onnx' });
    try {
      expect(onnx.backend).toBe('onnxruntime');
      const want = await tfjs.embed(big, 3, [224, 224, 3]);
      expect(maxDiff(want, await onnx.embed(big, 3, [224, 224, 3]))).toBeLessThan(VERIFY_TOLERANCE);
      const grey = big.filter((_, i) => i % 3 === 1);
      expect(
        maxDiff(await tfjs.embed(grey, 3, [224, 224, 1]), await onnx.embed(grey, 3, [224, 224, 1])),
      ).toBeLessThan(VERIFY_TOLERANCE);
      expect(onnx.backend).toBe('onnxruntime');
      expect(onnx.fallbacks).toEqual([]);
    } finally {
      tfjs.dispose();
      onnx.dispose();
    }
  });

  it.each([
    ['mobilenet-v1-0.25', 'mobilenet-v1-0.25'],
    ['mobilenet-v2-0.35 (the Teachable Machine folder)', V2],
  ])(
    '%s: same features as TF.js on real photos, converted once and cached with its checksum',
    async (_label, ref) => {
      const reasons: string[] = [];
      const tfjs = await loadBackbone({ name: ref }, { engine: 'tfjs' });
      const onnx = await loadBackbone({ name: ref }, { engine: 'onnx', onFallback: (r) => reasons.push(r) });
      try {
        expect(tfjs.backend).toBe('tfjs');
        expect(onnx.backend).toBe('onnxruntime');
        expect(onnx.device).toMatch(/^ONNX Runtime 1\.\d+\.\d+, cpu, \d+ threads$/);
        const want = await tfjs.embed(photos, N, [32, 32, 3]);
        const got = await onnx.embed(photos, N, [32, 32, 3]);
        expect(reasons).toEqual([]);
        expect(onnx.backend).toBe('onnxruntime');
        expect(maxDiff(want, got)).toBeLessThan(VERIFY_TOLERANCE);
        // Grey images take the same preprocessing path (tiled to RGB) on both.
        const grey = photos.filter((_, i) => i % 3 === 0).subarray(0, 2 * 32 * 32);
        expect(
          maxDiff(await tfjs.embed(grey, 2, [32, 32, 1]), await onnx.embed(grey, 2, [32, 32, 1])),
        ).toBeLessThan(VERIFY_TOLERANCE);
        const file = onnxCacheFile(onnx.sha256, ref === V2 ? 'layers[0]' : 'global_average_pooling2d_1');
        const bytes = new Uint8Array(await fs.readFile(file));
        expect(readMetadata(bytes)).toMatchObject({ source_sha256: onnx.sha256, converter: '3' });
        const index = JSON.parse(await fs.readFile(file.replace(/\.onnx$/, '.json'), 'utf8')) as Record<
          string,
          unknown
        >;
        expect(index).toMatchObject({ sourceSha256: onnx.sha256 });
        expect(index.verifiedMaxDiff as number).toBeLessThan(VERIFY_TOLERANCE);
      } finally {
        tfjs.dispose();
        onnx.dispose();
      }
      // The second load uses the cached model, already verified.
      const again = await loadBackbone({ name: ref }, { engine: 'onnx' });
      try {
        expect(again.backend).toBe('onnxruntime');
        const got = await again.embed(photos.subarray(0, 2 * 32 * 32 * 3), 2, [32, 32, 3]);
        expect(got.length).toBe(2 * again.embeddingSize);
      } finally {
        again.dispose();
      }
    },
    120_000,
  );

  it('a damaged cached model is rebuilt, not used', async () => {
    const bb = await loadBackbone({ name: 'mobilenet-v1-0.25' }, { engine: 'onnx' });
    const want = await bb.embed(photos, 3, [32, 32, 3]);
    const file = onnxCacheFile(bb.sha256, 'global_average_pooling2d_1');
    bb.dispose();
    const b = Buffer.from(await fs.readFile(file));
    b[b.length - 10] ^= 0xff;
    await fs.writeFile(file, b);
    const again = await loadBackbone({ name: 'mobilenet-v1-0.25' }, { engine: 'onnx' });
    try {
      expect(Array.from(await again.embed(photos, 3, [32, 32, 3]))).toEqual(Array.from(want));
      expect(await fs.readFile(file)).not.toEqual(b);
    } finally {
      again.dispose();
    }
  });

  it('ONNX Runtime that cannot load (simulated) gives the same features on TF.js, with the reason logged', async () => {
    const reasons: string[] = [];
    const tfjs = await loadBackbone({ name: 'mobilenet-v1-0.25' }, { engine: 'tfjs' });
    const broken = await loadBackbone(
      { name: 'mobilenet-v1-0.25' },
      {
        engine: 'onnx',
        onFallback: (r) => reasons.push(r),
        ort: {
          loadRuntime: () =>
            Promise.reject(
              new Error('libonnxruntime.so.1: cannot open shared object file: No such file or directory'),
            ),
        },
      },
    );
    try {
      expect(reasons).toEqual([
        expect.stringMatching(
          /ONNX Runtime cannot start: libonnxruntime\.so\.1: cannot open.*; embedding with TF\.js$/,
        ),
      ]);
      expect(broken.backend).toBe('tfjs');
      expect(broken.device).toMatch(/^tfjs wasm/);
      expect(Array.from(await broken.embed(photos, N, [32, 32, 3]))).toEqual(
        Array.from(await tfjs.embed(photos, N, [32, 32, 3])),
      );
    } finally {
      tfjs.dispose();
      broken.dispose();
    }
  });

  it('a failing execution provider falls back to the next with the reason, reported in the device string', async () => {
    const reasons: string[] = [];
    const bb = await loadBackbone(
      { name: 'mobilenet-v1-0.25' },
      {
        engine: 'onnx',
        onFallback: (r) => reasons.push(r),
        ort: { providers: ['no-such-provider', 'cpu'], threads: 1 },
      },
    );
    try {
      expect(bb.backend).toBe('onnxruntime');
      expect(bb.device).toMatch(/^ONNX Runtime [\d.]+, cpu, 1 threads$/);
      expect(reasons).toEqual([
        expect.stringMatching(/^ONNX Runtime provider no-such-provider not used \(.+\); using cpu$/),
      ]);
      expect(bb.fallbacks).toEqual(reasons);
    } finally {
      bb.dispose();
    }
  });
});
