/**
 * THE decode path: bytes → sniff → structural check → decode (sharp, or a JS fallback) → EXIF
 * orientation → alpha flattened on `background` → resize (`cover` = scale + centre crop,
 * `contain` = letterbox on `background`) → sRGB uint8 (or luminance when channels = 1), HWC.
 * Training, evaluation and prediction all call `prepareImage` / `decodeBuffer`, so they see
 * identical pixels. One shortcut, taken by every path alike: a plain baseline JPEG that is already
 * the model size (nothing to orient, resize or colour-manage) is decoded by `decodeBaselineJpeg`
 * (jpeg.ts), which gives exactly libjpeg-turbo's pixels without sharp's ~0.4 ms fixed cost.
 */
import { closeSync, constants as fsConstants, fstatSync, openSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { ImageError } from './errors.js';
import { isInside, OUTSIDE_MESSAGE, realPathOf } from './inside.js';
import { decodeBaselineJpeg } from './jpeg.js';
import {
  checkStructure,
  decodeFallback,
  plainJpegHeader,
  sniffFormat,
  type SniffedFormat,
} from './formats.js';
import type { PreparedImage, Preprocessing } from './types.js';

/** Background for alpha flattening and letterboxing: white. */
export const DEFAULT_BACKGROUND = { r: 255, g: 255, b: 255 };

/** Decompression-bomb guard: images with more pixels than this are refused ('too-large'). */
export const MAX_INPUT_PIXELS = 100_000_000;

/**
 * Open flags for reading an image: O_NONBLOCK so that opening a named pipe returns at once (a
 * regular file is unaffected) and the fstat below can refuse it; without it, open or read would
 * wait for a writer, perhaps forever. Absent on Windows, where there are no such files to open.
 */
const READ_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0);

function notRegular(file: string): ImageError {
  return new ImageError(file, 'unreadable', 'not a regular file (a pipe, device or socket); not read');
}

/** Read a file for decoding, mapping I/O failures onto ImageError reasons. */
export async function readImageFile(file: string): Promise<Buffer> {
  let buf: Buffer;
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(file, READ_FLAGS);
    if (!(await handle.stat()).isFile()) throw notRegular(file);
    buf = await handle.readFile();
  } catch (e) {
    throw e instanceof ImageError ? e : readError(file, e);
  } finally {
    await handle?.close();
  }
  if (buf.length === 0) throw new ImageError(file, 'empty', 'file is empty (0 bytes)');
  return buf;
}

/**
 * `readImageFile` without the event-loop round trips: for the many small files of an import, where
 * `fs.promises.readFile` (open, fstat, read, close: four thread-pool hops) costs ~10× the read.
 */
export function readImageFileSync(file: string): Buffer {
  let buf: Buffer;
  let fd: number | undefined;
  try {
    fd = openSync(file, READ_FLAGS);
    if (!fstatSync(fd).isFile()) throw notRegular(file);
    buf = readFileSync(fd);
  } catch (e) {
    throw e instanceof ImageError ? e : readError(file, e);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (buf.length === 0) throw new ImageError(file, 'empty', 'file is empty (0 bytes)');
  return buf;
}

function readError(file: string, e: unknown): ImageError {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  return new ImageError(file, 'unreadable', `cannot read file (${code || (e as Error).message})`);
}

export interface DecodedImage extends PreparedImage {
  /** True when every output pixel has R = G = B (only meaningful for channels = 3). */
  grey: boolean;
}

/** Decode, orient, flatten and resize one image. `file` names it in errors. */
export async function decodeBuffer(file: string, buf: Buffer, prep: Preprocessing): Promise<DecodedImage> {
  if (buf.length === 0) throw new ImageError(file, 'empty', 'file is empty (0 bytes)');
  return decodeDirect(file, buf, prep) ?? decodeWithSharp(file, buf, prep);
}

/**
 * The JS shortcut of `decodeBuffer`: a plain JPEG (`plainJpegHeader`: no EXIF, ICC or Adobe marker)
 * already prep.size × prep.size, whose sharp pipeline would be the decode alone, decoded by
 * `decodeBaselineJpeg` (byte-identical to libjpeg-turbo). Null when sharp must do it: the decoder
 * declined the file (progressive, 4:2:2, restart markers, anything on which libjpeg would warn…),
 * or a colour JPEG is wanted as luminance (libvips's sRGB → B_W conversion).
 * A JPEG that fails `checkStructure` throws its ImageError first, as on the sharp path.
 */
function decodeDirect(file: string, buf: Buffer, prep: Preprocessing): DecodedImage | null {
  if (!(buf.length >= 2 && buf[0] === 0xff && buf[1] === 0xd8)) return null; // sniffFormat's JPEG test
  checkStructure(file, buf, 'jpeg');
  const h = plainJpegHeader(buf);
  if (!h || h.width !== prep.size || h.height !== prep.size) return null;
  if (h.components === 3 && prep.channels === 1) return null;
  const img = decodeBaselineJpeg(buf);
  if (!img || img.width !== prep.size || img.height !== prep.size) return null;
  return decoded(fixChannels(img.data, img.channels, prep.channels), prep);
}

/**
 * `decodeBuffer` without the JS shortcut: every image through sharp. Exported for the tests that
 * prove the shortcut gives the same bytes.
 */
export async function decodeWithSharp(file: string, buf: Buffer, prep: Preprocessing): Promise<DecodedImage> {
  if (buf.length === 0) throw new ImageError(file, 'empty', 'file is empty (0 bytes)');
  const format = sniffFormat(buf, path.extname(file).toLowerCase());
  const pipeline = await openPipeline(file, buf, format);
  pipeline
    .flatten({ background: prep.background })
    .resize(prep.size, prep.size, { fit: prep.fit, position: 'centre', background: prep.background })
    .toColourspace(prep.channels === 1 ? 'b-w' : 'srgb')
    .removeAlpha();
  let data: Buffer;
  let channels: number;
  try {
    const out = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    data = out.data;
    channels = out.info.channels;
  } catch (e) {
    throw sharpError(file, e);
  }
  const pixels = fixChannels(data, channels, prep.channels);
  return decoded(pixels, prep);
}

/** The result record for pixels already at the model's size and channel count. */
function decoded(pixels: Uint8Array, prep: Preprocessing): DecodedImage {
  return {
    pixels,
    width: prep.size,
    height: prep.size,
    channels: prep.channels,
    grey: isGrey(pixels, prep.channels),
  };
}

function isGrey(pixels: Uint8Array, channels: 1 | 3): boolean {
  if (channels === 1) return true;
  for (let i = 0; i < pixels.length; i += 3) {
    if (pixels[i] !== pixels[i + 1] || pixels[i] !== pixels[i + 2]) return false;
  }
  return true;
}

/**
 * Batching key of an image whose `decodeBuffer` pipeline is per-pixel only after the decode: a
 * plain JPEG (see `plainJpegHeader`) already prep.size × prep.size, so orientation, resize and
 * crop are no-ops. Such images, when they share a key (their band count), can be decoded in one
 * sharp call (`decodeBatch`) with byte-identical results. Null when the image needs `decodeBuffer`.
 */
export function batchKey(buf: Buffer, prep: Preprocessing): number | null {
  const h = plainJpegHeader(buf);
  return h && h.width === prep.size && h.height === prep.size ? h.components : null;
}

/**
 * `decodeBuffer` for many small images with the same `batchKey`. Those the JS shortcut takes (see
 * `decodeDirect`) are decoded by it, exactly as `decodeBuffer` would; the rest share one sharp call,
 * amortising sharp's fixed cost per call (~0.5 ms, far more than decoding a 32×32 JPEG): they are
 * stacked vertically by one sharp pipeline (join) and the same per-pixel steps (flatten,
 * colourspace, alpha removal) are applied to the stack. If that fails (one bad file fails the
 * whole join), each image is decoded on its own, so errors are exactly those of `decodeBuffer`.
 * Returns one DecodedImage or ImageError per input, in order.
 */
export async function decodeBatch(
  items: readonly { file: string; buf: Buffer }[],
  prep: Preprocessing,
): Promise<(DecodedImage | ImageError)[]> {
  const out: (DecodedImage | ImageError)[] = new Array<DecodedImage | ImageError>(items.length);
  const rest: number[] = [];
  items.forEach((it, k) => {
    try {
      const direct = decodeDirect(it.file, it.buf, prep);
      if (direct) out[k] = direct;
      else rest.push(k);
    } catch (e) {
      if (!(e instanceof ImageError)) throw e;
      out[k] = e;
    }
  });
  if (rest.length > 0) {
    const joined = await decodeJoined(
      rest.map((k) => items[k]!),
      prep,
    );
    rest.forEach((k, j) => (out[k] = joined[j]!));
  }
  return out;
}

/** The sharp half of `decodeBatch` (one join for all the items, or each on its own on failure). */
async function decodeJoined(
  items: readonly { file: string; buf: Buffer }[],
  prep: Preprocessing,
): Promise<(DecodedImage | ImageError)[]> {
  const one = (it: { file: string; buf: Buffer }) =>
    decodeWithSharp(it.file, it.buf, prep).catch((e: unknown) => {
      if (e instanceof ImageError) return e;
      throw e;
    });
  const each = async () => {
    const out: (DecodedImage | ImageError)[] = [];
    for (const it of items) out.push(await one(it));
    return out;
  };
  if (items.length < 2) return each();
  const n = items.length;
  const per = prep.size * prep.size;
  let data: Buffer;
  let channels: number;
  try {
    for (const it of items) checkStructure(it.file, it.buf, 'jpeg');
    const out = await sharp(
      items.map((it) => it.buf),
      { join: { across: 1 }, limitInputPixels: MAX_INPUT_PIXELS, failOn: 'warning' },
    )
      .flatten({ background: prep.background })
      .toColourspace(prep.channels === 1 ? 'b-w' : 'srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (out.info.width !== prep.size || out.info.height !== prep.size * n) return each();
    data = out.data;
    channels = out.info.channels;
  } catch {
    return each();
  }
  const all = fixChannels(data, channels, prep.channels);
  const rec = per * prep.channels;
  return items.map((_, k) => {
    const pixels = all.subarray(k * rec, (k + 1) * rec);
    return decoded(pixels, prep);
  });
}

/** A sharp instance positioned after decode + EXIF orientation, for any supported format. */
async function openPipeline(file: string, buf: Buffer, format: SniffedFormat | null): Promise<Sharp> {
  if (format === null) {
    const text = buf
      .subarray(0, 512)
      .every((c) => c === 9 || c === 10 || c === 13 || (c >= 32 && c < 127) || c >= 128);
    throw new ImageError(
      file,
      'not-image',
      text ? 'not an image: the file holds text' : 'not an image: unrecognised content',
    );
  }
  if (format === 'svg') throw new ImageError(file, 'unsupported', 'SVG (vector) images are not supported');
  checkStructure(file, buf, format);
  if (format === 'bmp' || format === 'tga' || format === 'pnm' || format === 'heic') {
    const raw = await decodeFallback(file, buf, format, MAX_INPUT_PIXELS);
    return sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: 4 } });
  }
  const s = sharp(buf, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'warning' });
  if (format === 'tiff') {
    let depth: string | undefined;
    try {
      depth = (await s.metadata()).depth;
    } catch (e) {
      throw sharpError(file, e);
    }
    if (depth === 'float' || depth === 'double' || depth === 'complex' || depth === 'dpcomplex') {
      throw new ImageError(
        file,
        'unsupported',
        `floating-point TIFF (${depth}) is not supported: its value range is undefined; convert to 8 or 16 bit`,
      );
    }
  }
  return s.rotate();
}

function fixChannels(data: Uint8Array, have: number, want: 1 | 3): Uint8Array {
  const out = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (have === want) return out;
  const n = data.length / have;
  const res = new Uint8Array(n * want);
  for (let i = 0; i < n; i++) {
    if (want === 3) res[3 * i] = res[3 * i + 1] = res[3 * i + 2] = out[i * have]!;
    else res[i] = out[i * have]!;
  }
  return res;
}

/**
 * The first line of a libvips error that says what is wrong with the file. With failOn 'warning',
 * the warning follows "Warning treated as error due to failOn setting", which says nothing about
 * the file; under concurrent decodes libvips may give that line alone (the warning went to
 * another thread's buffer), and then all we know is that the data is damaged.
 */
export function decoderMessage(raw: string): string {
  const lines = raw.split('\n').filter((l) => l.trim());
  const failOn = /treated as error due to failOn/i;
  const what = lines.find((l) => !failOn.test(l));
  if (what) return what;
  return lines.length ? 'damaged image data: the decoder stopped on a warning' : 'cannot decode';
}

function sharpError(file: string, e: unknown): ImageError {
  if (e instanceof ImageError) return e;
  const msg = decoderMessage(e instanceof Error ? e.message : String(e));
  if (/pixel limit/i.test(msg))
    return new ImageError(
      file,
      'too-large',
      `image exceeds the limit of ${MAX_INPUT_PIXELS} pixels (decompression-bomb guard)`,
    );
  if (/unsupported image format/i.test(msg))
    return new ImageError(file, 'unsupported', `unsupported image format (${msg})`);
  if (/premature end|truncat|unexpected end|end of (file|stream|data)|short read/i.test(msg))
    return new ImageError(file, 'truncated', msg);
  return new ImageError(file, 'corrupt', msg);
}

/**
 * Decode + orient + flatten + resize one image (path or encoded bytes) exactly as the import does.
 * Throws ImageError(file, reason, message).
 */
export async function prepareImage(input: string | Buffer, prep: Preprocessing): Promise<PreparedImage> {
  const file = typeof input === 'string' ? input : '<buffer>';
  const buf = typeof input === 'string' ? await readImageFile(input) : input;
  const { pixels, width, height, channels } = await decodeBuffer(file, buf, prep);
  return { pixels, width, height, channels };
}

/**
 * A small JPEG (longest side ≤ size, upright, flattened on white) of a source image, for the UI:
 * a file on disk, or the bytes of a dropped/picked file with its name (a browser cannot show a
 * TIFF or HEIC itself; sharp decodes every format the app imports).
 */
export async function thumbnail(
  source: string | { name: string; bytes: Buffer },
  size = 128,
  opts: { root?: string } = {},
): Promise<Buffer> {
  const file = typeof source === 'string' ? source : source.name;
  // Granted folders are a wall: with a root, a file whose real path leaves it is refused unread
  // (a missing file goes on to the usual "cannot read" error).
  if (
    typeof source === 'string' &&
    opts.root !== undefined &&
    realPathOf(file) !== undefined &&
    !isInside(opts.root, file)
  )
    throw new ImageError(file, 'outside-link', OUTSIDE_MESSAGE);
  const buf = typeof source === 'string' ? await readImageFile(file) : source.bytes;
  const pipeline = await openPipeline(file, buf, sniffFormat(buf, path.extname(file).toLowerCase()));
  try {
    return await pipeline
      .flatten({ background: DEFAULT_BACKGROUND })
      .resize(size, size, { fit: 'inside', withoutEnlargement: true })
      .jpeg({ quality: 80 })
      .toBuffer();
  } catch (e) {
    throw sharpError(file, e);
  }
}
