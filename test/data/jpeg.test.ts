import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeBuffer, decodeWithSharp } from '../../src-main/data/decode.js';
import { decodeBaselineJpeg } from '../../src-main/data/jpeg.js';
import type { Preprocessing } from '../../src-main/data/types.js';
import { SHARED } from '../shared-data.js';

const prep = (size: number, channels: 1 | 3 = 3): Preprocessing => ({
  size,
  channels,
  fit: 'cover',
  background: { r: 255, g: 255, b: 255 },
});

/** What a decode gives: its pixels (and grey flag), or its error reason. */
async function outcome(p: Promise<{ pixels: Uint8Array; grey: boolean }>): Promise<string> {
  try {
    const r = await p;
    return `${r.grey ? 'grey' : 'colour'}:${Buffer.from(r.pixels).toString('base64')}`;
  } catch (e) {
    return `error:${(e as { reason?: string }).reason ?? String(e)}`;
  }
}

/** A w×h picture with detail in every channel (gradients + a diagonal pattern). */
function picture(w: number, h: number, seed: number): Buffer {
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      px[i] = (x * 255) / Math.max(1, w - 1);
      px[i + 1] = (y * 255) / Math.max(1, h - 1);
      px[i + 2] = ((x + y) * 37 + seed * 91) & 255;
    }
  return px;
}

async function jpegOf(
  w: number,
  h: number,
  seed: number,
  o: { quality: number; sub: '4:2:0' | '4:4:4'; grey?: boolean; optimise?: boolean; progressive?: boolean },
): Promise<Buffer> {
  let s = sharp(picture(w, h, seed), { raw: { width: w, height: h, channels: 3 } });
  if (o.grey) s = s.toColourspace('b-w');
  return s
    .jpeg({
      quality: o.quality,
      chromaSubsampling: o.sub,
      optimiseCoding: o.optimise ?? false,
      progressive: o.progressive ?? false,
    })
    .toBuffer();
}

describe('decodeBaselineJpeg (the JS shortcut of decodeBuffer)', () => {
  it('gives exactly the pixels of the sharp path: 4:2:0, 4:4:4, grey, odd sizes, all qualities', async () => {
    let taken = 0;
    let cases = 0;
    for (const size of [5, 8, 17, 32, 33, 47]) {
      for (const quality of [5, 50, 90, 100]) {
        for (const mode of ['4:2:0', '4:4:4', 'grey'] as const) {
          const buf = await jpegOf(size, size, size + quality, {
            quality,
            sub: mode === 'grey' ? '4:4:4' : mode,
            grey: mode === 'grey',
            optimise: quality === 50,
          });
          const direct = decodeBaselineJpeg(buf);
          expect(direct, `${size} q${quality} ${mode}`).not.toBeNull();
          taken++;
          for (const channels of mode === 'grey' ? ([1, 3] as const) : ([3] as const)) {
            cases++;
            const p = prep(size, channels);
            expect(
              await outcome(decodeBuffer('x.jpg', buf, p)),
              `${size} q${quality} ${mode} c${channels}`,
            ).toBe(await outcome(decodeWithSharp('x.jpg', buf, p)));
          }
        }
      }
    }
    expect([taken, cases]).toEqual([72, 96]);
  });

  it('gives exactly the pixels of the sharp path on CIFAR-10 files', async () => {
    const root = path.join(SHARED, 'data/cifar10/train');
    const files = readdirSync(root)
      .flatMap((c) =>
        readdirSync(path.join(root, c))
          .slice(0, 30)
          .map((f) => path.join(root, c, f)),
      )
      .sort();
    expect(files.length).toBe(300);
    for (const f of files) {
      const buf = readFileSync(f);
      expect(decodeBaselineJpeg(buf), f).not.toBeNull();
      expect(await outcome(decodeBuffer(f, buf, prep(32))), f).toBe(
        await outcome(decodeWithSharp(f, buf, prep(32))),
      );
    }
  });

  it('declines what it does not cover, which then goes through sharp unchanged', async () => {
    const plain = await jpegOf(32, 32, 1, { quality: 80, sub: '4:2:0' });
    const declined: Record<string, Buffer> = {
      progressive: await jpegOf(32, 32, 1, { quality: 80, sub: '4:2:0', progressive: true }),
      'EXIF orientation': await sharp(plain).jpeg().withMetadata({ orientation: 6 }).toBuffer(),
      'ICC profile': await sharp(plain).jpeg().withIccProfile('p3').toBuffer(),
      '4:2:0 only 3 wide': await jpegOf(3, 32, 1, { quality: 80, sub: '4:2:0' }),
      truncated: plain.subarray(0, plain.length - 40),
      'extra bytes before EOI': Buffer.concat([plain.subarray(0, -2), Buffer.from([0x12, 0x34, 0xff, 0xd9])]),
      'reserved marker': withSegment(plain, 0x60),
      'restart interval': withSegment(plain, 0xdd, [0, 1]),
    };
    for (const [what, buf] of Object.entries(declined)) {
      expect(decodeBaselineJpeg(buf), what).toBeNull();
      expect(await outcome(decodeBuffer('x.jpg', buf, prep(32))), what).toBe(
        await outcome(decodeWithSharp('x.jpg', buf, prep(32))),
      );
    }
    // A comment or an unknown APPn segment is fine.
    expect(decodeBaselineJpeg(withSegment(plain, 0xfe, [...Buffer.from('hello')]))).not.toBeNull();
    expect(decodeBaselineJpeg(withSegment(plain, 0xe5, [1, 2, 3]))).not.toBeNull();
  });

  it('damaged files: the same pixels or the same error as the sharp path', async () => {
    const sources = [
      await jpegOf(32, 32, 2, { quality: 75, sub: '4:2:0' }),
      await jpegOf(32, 32, 3, { quality: 60, sub: '4:4:4' }),
      await jpegOf(32, 32, 4, { quality: 90, sub: '4:4:4', grey: true }),
    ];
    let seed = 12345;
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
    const seen = new Set<string>();
    for (let t = 0; t < 240; t++) {
      const b = Buffer.from(sources[t % 3]!);
      if (t % 2) b[2 + rnd(b.length - 2)] = rnd(256);
      else b[2 + rnd(b.length - 2)]! ^= 1 << rnd(8);
      const got = await outcome(decodeBuffer('x.jpg', b, prep(32)));
      expect(got, `case ${t}`).toBe(await outcome(decodeWithSharp('x.jpg', b, prep(32))));
      seen.add(got.startsWith('error') ? got : 'decoded');
    }
    expect(seen.has('decoded') && seen.size > 1).toBe(true); // both kinds of outcome occurred
  });
});

/** `jpeg` with one more marker segment (code `marker`, payload `data`) right after SOI. */
function withSegment(jpeg: Buffer, marker: number, data: number[] = [0, 0]): Buffer {
  const len = data.length + 2;
  return Buffer.concat([
    jpeg.subarray(0, 2),
    Buffer.from([0xff, marker, len >> 8, len & 255, ...data]),
    jpeg.subarray(2),
  ]);
}
