import { execFileSync } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_BACKGROUND,
  ImageError,
  prepareImage,
  thumbnail,
  type Preprocessing,
} from '../../src-main/data/index.js';
import { HEIC_FIXTURES, meanAbsDiff, ROBUST } from './helpers.js';
import { decoderMessage } from '../../src-main/data/decode.js';

const prep = (size: number, channels: 1 | 3 = 3, fit: 'cover' | 'contain' = 'cover'): Preprocessing => ({
  size,
  channels,
  fit,
  background: DEFAULT_BACKGROUND,
});

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true, recursive: true }))
    if (e.isFile()) out.push(path.join(e.parentPath, e.name));
  return out.sort();
}

async function reasonOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    expect(e).toBeInstanceOf(ImageError);
    return (e as ImageError).reason;
  }
}

describe('prepareImage on robustness/formats', () => {
  it('decodes every file to size×size×3 uint8', async () => {
    const files = await filesUnder(path.join(ROBUST, 'formats'));
    expect(files.length).toBeGreaterThan(60);
    for (const f of files) {
      const img = await prepareImage(f, prep(32));
      expect(img.pixels.length, f).toBe(32 * 32 * 3);
      expect([img.width, img.height, img.channels]).toEqual([32, 32, 3]);
    }
  });

  it('applies EXIF orientation: patterns 0–8 all come out the same way up', async () => {
    const dir = path.join(ROBUST, 'formats/exif_orientation');
    const ref = (await prepareImage(path.join(dir, 'orientation_1.jpg'), prep(40))).pixels;
    for (let o = 0; o <= 8; o++) {
      const img = await prepareImage(path.join(dir, `orientation_${o}.jpg`), prep(40));
      expect(meanAbsDiff(img.pixels, ref), `orientation ${o}`).toBeLessThan(8);
    }
    // The check can fail: the same pattern flipped is far from upright.
    const flipped = await sharp(path.join(dir, 'orientation_1.jpg')).flip().toBuffer();
    expect(meanAbsDiff((await prepareImage(flipped, prep(40))).pixels, ref)).toBeGreaterThan(20);
  });

  it('real photos with orientation 6 match the upright reference', async () => {
    const refFile = path.join(ROBUST, 'formats/exif_orientation_reference/bug725582-testrotate.png');
    const ref = (await prepareImage(refFile, prep(64, 3, 'contain'))).pixels;
    for (const name of ['bug725582-testrotate.jpg', 'bug143608-comment.jpg']) {
      const img = await prepareImage(
        path.join(ROBUST, 'formats/exif_orientation', name),
        prep(64, 3, 'contain'),
      );
      expect(meanAbsDiff(img.pixels, ref), name).toBeLessThan(10);
    }
    const sideways = await sharp(refFile).rotate(90).toBuffer();
    expect(meanAbsDiff((await prepareImage(sideways, prep(64, 3, 'contain'))).pixels, ref)).toBeGreaterThan(
      20,
    );
  });

  it('flattens alpha on white and letterboxes on white with contain', async () => {
    const rgba = await sharp({
      create: { width: 20, height: 10, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } },
    })
      .png()
      .toBuffer();
    const img = await prepareImage(rgba, prep(8, 3, 'contain'));
    expect([...img.pixels].every((v) => v === 255)).toBe(true);
    const red = await sharp({
      create: { width: 20, height: 10, channels: 3, background: { r: 255, g: 0, b: 0 } },
    })
      .png()
      .toBuffer();
    const boxed = (await prepareImage(red, prep(8, 3, 'contain'))).pixels;
    expect([...boxed.subarray(0, 3)]).toEqual([255, 255, 255]); // top row: letterbox
    expect([...boxed.subarray(4 * 8 * 3, 4 * 8 * 3 + 3)]).toEqual([255, 0, 0]); // middle: image
    const covered = (await prepareImage(red, prep(8, 3, 'cover'))).pixels;
    expect([...covered.subarray(0, 3)]).toEqual([255, 0, 0]);
  });

  it('gives one channel for channels 1, equal to the grey value of a grey source', async () => {
    const f = path.join(ROBUST, 'formats/png_grayscale/video-005.gray.png');
    const grey = await prepareImage(f, prep(32, 1));
    const rgb = await prepareImage(f, prep(32, 3));
    expect(grey.pixels.length).toBe(32 * 32);
    for (let i = 0; i < 32 * 32; i++) expect(rgb.pixels[3 * i]).toBe(grey.pixels[i]);
  });
});

describe('prepareImage refusals', () => {
  it('reports each corrupt/ file with a reason', async () => {
    const expected: Record<string, string> = {
      'invalid/bug775218.jpg': 'truncated', // malformed header, no EOI
      'invalid/invalid-crc32.png': 'corrupt',
      'invalid/invalid-trunc.png': 'truncated',
      'invalid/invalid-zlib.png': 'corrupt',
      'truncated/premature-end.jpg': 'truncated',
      'truncated/video-001.progressive.truncated.jpeg': 'truncated',
      'unsupported/image-float.tiff': 'unsupported',
    };
    for (const [f, reason] of Object.entries(expected))
      expect(await reasonOf(prepareImage(path.join(ROBUST, 'corrupt', f), prep(32))), f).toBe(reason);
  });

  it("says what is wrong with the file, not libvips's failOn setting (the CRC error of invalid-crc32.png)", async () => {
    const f = path.join(ROBUST, 'corrupt/invalid/invalid-crc32.png');
    const e = await prepareImage(f, prep(32)).then(
      () => undefined,
      (err: unknown) => err as ImageError,
    );
    expect(e?.message).toMatch(/CRC error/);
    expect(e?.message).not.toMatch(/failOn/);
  });

  it('says the data is damaged when libvips gives only its failOn line (its detail went to another thread)', () => {
    // Seen importing a folder of 64 mixed files: the CRC line was missing from the error.
    const only = decoderMessage('Warning treated as error due to failOn setting');
    expect(only).not.toMatch(/failOn/);
    expect(only).toMatch(/damaged/);
    expect(
      decoderMessage('Warning treated as error due to failOn setting\nIHDR: CRC error\nerror in tile 0 x 0'),
    ).toBe('IHDR: CRC error');
  });

  it('labeled/horse: every format decodes to the same picture, or is refused naming its format', async () => {
    const dir = path.join(ROBUST, 'labeled/horse');
    const ref = (await prepareImage(path.join(dir, 'horse.png'), prep(32))).pixels;
    const refused: string[] = [];
    for (const f of await fs.readdir(dir)) {
      try {
        const img = await prepareImage(path.join(dir, f), prep(32));
        expect(meanAbsDiff(img.pixels, ref), f).toBeLessThan(12);
      } catch (e) {
        expect((e as ImageError).reason, f).toBe('unsupported');
        expect((e as ImageError).message).toMatch(new RegExp(path.extname(f).slice(1), 'i'));
        refused.push(f);
      }
    }
    expect(refused).toEqual(['horse.bmp']); // RLE8 BMP; the other six decode
  });

  it('refuses empty, text, missing and oversized inputs with the right reason', async () => {
    expect(await reasonOf(prepareImage(Buffer.alloc(0), prep(8)))).toBe('empty');
    expect(await reasonOf(prepareImage(Buffer.from('hello, I am not a JPEG\n'), prep(8)))).toBe('not-image');
    expect(await reasonOf(prepareImage('/nonexistent/x.jpg', prep(8)))).toBe('unreadable');
    expect(await reasonOf(prepareImage(hugePngHeader(20000, 20000), prep(8)))).toBe('too-large');
    expect(
      await reasonOf(prepareImage(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), prep(8))),
    ).toBe('unsupported');
  });
});

describe('prepareImage on files that are not regular files', () => {
  it('refuses a named pipe at once (reason unreadable, naming it) instead of waiting for a writer', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-fifo-'));
    const fifo = path.join(dir, 'photo.png');
    execFileSync('mkfifo', [fifo]);
    try {
      const err = await prepareImage(fifo, prep(8)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ImageError);
      expect((err as ImageError).reason).toBe('unreadable');
      expect((err as ImageError).file).toBe(fifo);
      expect((err as ImageError).message).toMatch(/not a regular file/);
    } finally {
      // A red run leaves a reader blocked on the pipe: a writer that opens and closes it lets it go.
      const h = await fs.open(fifo, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK).catch(() => undefined);
      await h?.close();
      await fs.rm(dir, { recursive: true, force: true });
    }
  }, 10_000);
});

describe('HEIC (heic-decode), on the fixtures of test/fixtures/heic', () => {
  const dir = HEIC_FIXTURES;
  const contain = prep(64, 3, 'contain');

  it('decodes a HEIC to the pixels of its source, within lossy-coding error', async () => {
    const ref = (await prepareImage(path.join(dir, 'source.png'), contain)).pixels;
    const img = await prepareImage(path.join(dir, 'upright.heic'), contain);
    expect([img.width, img.height, img.channels]).toEqual([64, 64, 3]);
    expect(meanAbsDiff(img.pixels, ref)).toBeLessThan(4);
    // Letterboxed on white: 64×48 in 64×64 leaves 8 rows above and below.
    expect([...img.pixels.subarray(0, 3)]).toEqual([255, 255, 255]);
    // The dark block of the source's top-left corner, just under the letterbox band.
    const at = (10 * 64 + 4) * 3;
    expect(Math.max(...img.pixels.subarray(at, at + 3))).toBeLessThan(110);
  });

  it('applies the irot transform: a picture stored sideways comes out upright', async () => {
    const ref = (await prepareImage(path.join(dir, 'source.png'), contain)).pixels;
    const img = await prepareImage(path.join(dir, 'rotated.heic'), contain);
    expect(meanAbsDiff(img.pixels, ref)).toBeLessThan(4);
    // The check can fail: the stored (sideways) picture, or the upright one upside down, is far off.
    const sideways = await sharp(path.join(dir, 'source.png')).rotate(-90).png().toBuffer();
    expect(meanAbsDiff((await prepareImage(sideways, contain)).pixels, ref)).toBeGreaterThan(20);
    const upsideDown = await sharp(path.join(dir, 'source.png')).rotate(180).png().toBuffer();
    expect(meanAbsDiff((await prepareImage(upsideDown, contain)).pixels, ref)).toBeGreaterThan(20);
  });

  it('reports a damaged HEIC with a reason', async () => {
    const buf = await fs.readFile(path.join(dir, 'upright.heic'));
    expect(await reasonOf(prepareImage(buf.subarray(0, 400), prep(32)))).toMatch(/^(corrupt|truncated)$/);
  });
});

describe('thumbnail', () => {
  it('makes a small upright JPEG', async () => {
    const t = await thumbnail(path.join(ROBUST, 'formats/exif_orientation/bug725582-testrotate.jpg'), 64);
    const m = await sharp(t).metadata();
    expect(m.format).toBe('jpeg');
    expect(m.height).toBe(64); // 428×640 upright, fitted inside 64
    expect(m.width).toBeGreaterThanOrEqual(42);
    expect(m.width).toBeLessThanOrEqual(43);
  });
});

/** A PNG that claims w×h pixels (IHDR + IEND only): a decompression-bomb header. */
function hugePngHeader(w: number, h: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const idat = zlib.deflateSync(Buffer.alloc(w + 1));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
