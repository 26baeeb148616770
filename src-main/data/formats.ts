/**
 * Format sniffing by content, cheap structural checks that catch truncation the decoders let
 * through, and the pure-JS decoders for formats sharp's prebuilt libvips lacks (BMP, TGA, PNM,
 * HEIC). Every fallback decoder returns 8-bit RGBA that then goes through the same sharp pipeline.
 */
import { createRequire } from 'node:module';
import { ImageError } from './errors.js';

const require = createRequire(import.meta.url);

export type SniffedFormat =
  'jpeg' | 'png' | 'gif' | 'webp' | 'tiff' | 'avif' | 'heic' | 'bmp' | 'pnm' | 'tga' | 'svg';

/** File extensions treated as images by the scanner (lower case, with dot). */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set([
  '.jpg',
  '.jpeg',
  '.jpe',
  '.jfif',
  '.png',
  '.gif',
  '.webp',
  '.tif',
  '.tiff',
  '.avif',
  '.heic',
  '.heif',
  '.bmp',
  '.dib',
  '.pnm',
  '.pbm',
  '.pgm',
  '.ppm',
  '.pam',
  '.tga',
  '.icb',
  '.vda',
  '.vst',
]);

/** Why a file the walk passes over is not read: its extension names no image format. */
export function notImageMessage(extension: string): string {
  return `extension "${extension || '(none)'}" is not an image format`;
}

const TGA_EXTENSIONS = new Set(['.tga', '.icb', '.vda', '.vst']);

/** Identify an image by its first bytes (TGA, which has no magic, by extension or footer). */
export function sniffFormat(buf: Uint8Array, ext = ''): SniffedFormat | null {
  const b = buf;
  const ascii = (start: number, end: number) => Buffer.from(b.subarray(start, end)).toString('latin1');
  if (b.length >= 2 && b[0] === 0xff && b[1] === 0xd8) return 'jpeg';
  if (b.length >= 8 && b[0] === 0x89 && ascii(1, 4) === 'PNG') return 'png';
  if (b.length >= 6 && ascii(0, 4) === 'GIF8') return 'gif';
  if (b.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  if (b.length >= 4 && (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*')) return 'tiff';
  if (b.length >= 12 && ascii(4, 8) === 'ftyp') {
    const brands = ascii(8, Math.min(b.length, 8 + Math.max(8, readU32BE(b, 0) - 8)));
    if (/avi[fs]/.test(brands)) return 'avif';
    if (/hei[cfsx]|hev[cx]|mif1|msf1/.test(brands)) return 'heic';
    return null;
  }
  if (b.length >= 2 && b[0] === 0x42 && b[1] === 0x4d) return 'bmp';
  if (b.length >= 3 && b[0] === 0x50 && b[1]! >= 0x31 && b[1]! <= 0x37 && isSpace(b[2]!)) return 'pnm';
  if (
    TGA_EXTENSIONS.has(ext) ||
    (b.length > 26 && ascii(b.length - 18, b.length - 2) === 'TRUEVISION-XFILE')
  ) {
    return 'tga';
  }
  const head = ascii(0, Math.min(b.length, 256)).trimStart().toLowerCase();
  if (head.startsWith('<svg') || (head.startsWith('<?xml') && head.includes('<svg'))) return 'svg';
  return null;
}

function readU32BE(b: Uint8Array, p: number): number {
  return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * Structural checks for damage that libjpeg/libpng tolerate silently: a PNG whose chunks run past
 * the end or lack IEND, a JPEG without EOI, a progressive JPEG whose successive-approximation
 * scans stop before reaching full precision (truncated mid-scan). Throws ImageError('truncated').
 */
export function checkStructure(file: string, buf: Uint8Array, format: SniffedFormat): void {
  if (format === 'png') checkPng(file, buf);
  else if (format === 'jpeg') checkJpeg(file, buf);
}

function checkPng(file: string, b: Uint8Array): void {
  let p = 8;
  while (p + 8 <= b.length) {
    const len = readU32BE(b, p);
    const type = Buffer.from(b.subarray(p + 4, p + 8)).toString('latin1');
    const end = p + 12 + len;
    if (end > b.length) throw new ImageError(file, 'truncated', `PNG truncated inside the ${type} chunk`);
    if (type === 'IEND') return;
    p = end;
  }
  throw new ImageError(file, 'truncated', 'PNG truncated: no IEND chunk');
}

function checkJpeg(file: string, b: Uint8Array): void {
  // EOI may be followed by padding or trailing metadata; look for it near the end.
  const tail = Buffer.from(b.subarray(Math.max(0, b.length - 4096)));
  if (tail.lastIndexOf(Buffer.from([0xff, 0xd9])) < 0) {
    throw new ImageError(file, 'truncated', 'JPEG truncated: no end-of-image marker');
  }
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  let p = 2;
  let progressive = false;
  // Per component id and coefficient: the lowest successive-approximation bit reached (-1 = never coded).
  const lowBit = new Map<number, Int8Array>();
  while (p + 4 <= buf.length) {
    if (buf[p] !== 0xff) {
      const next = buf.indexOf(0xff, p);
      if (next < 0) break;
      p = next;
      continue;
    }
    const m = buf[p + 1]!;
    if (m === 0xff) {
      p += 1;
      continue;
    }
    if (m === 0x00 || (m >= 0xd0 && m <= 0xd7)) {
      p += 2;
      continue;
    }
    if (m === 0xd9) break;
    const len = buf.readUInt16BE(p + 2);
    if (m === 0xc2 || m === 0xc6 || m === 0xca || m === 0xce) {
      progressive = true;
      const n = buf[p + 9] ?? 0;
      for (let i = 0; i < n; i++) lowBit.set(buf[p + 10 + 3 * i]!, new Int8Array(64).fill(-1));
    } else if (m === 0xda) {
      if (!progressive) return; // baseline: the EOI check above is what we can do cheaply
      const ns = buf[p + 4]!;
      const ss = buf[p + 5 + 2 * ns]!;
      const se = buf[p + 6 + 2 * ns]!;
      const al = buf[p + 7 + 2 * ns]! & 15;
      for (let i = 0; i < ns; i++) {
        const bits = lowBit.get(buf[p + 5 + 2 * i]!);
        if (!bits) continue;
        for (let k = ss; k <= Math.min(se, 63); k++) bits[k] = al;
      }
    }
    p += 2 + len;
  }
  if (!progressive) return;
  for (const bits of lowBit.values()) {
    for (let k = 0; k < 64; k++) {
      // A band that was started must be refined down to bit 0; DC must always be complete.
      if ((k === 0 && bits[k] !== 0) || bits[k]! > 0) {
        throw new ImageError(
          file,
          'truncated',
          'progressive JPEG truncated: its scans stop before full precision',
        );
      }
    }
  }
}

export interface RawImage {
  width: number;
  height: number;
  /** 8-bit RGBA. */
  data: Uint8Array;
}

/** Decode the formats sharp cannot: BMP (decode-bmp), TGA (@lunapaint/tga-codec), PNM (here), HEIC (heic-decode). */
export async function decodeFallback(
  file: string,
  buf: Uint8Array,
  format: 'bmp' | 'tga' | 'pnm' | 'heic',
  maxPixels: number,
): Promise<RawImage> {
  const guard = (w: number, h: number) => {
    if (!(w > 0 && h > 0))
      throw new ImageError(file, 'corrupt', `${format.toUpperCase()} header has no size`);
    if (w * h > maxPixels) {
      throw new ImageError(file, 'too-large', `${w}×${h} pixels exceeds the limit of ${maxPixels} pixels`);
    }
  };
  try {
    if (format === 'bmp') {
      const dv = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
      if (dv.length >= 26) guard(Math.abs(dv.readInt32LE(18)), Math.abs(dv.readInt32LE(22)));
      const compression = dv.length >= 34 ? dv.readUInt32LE(30) : 0;
      if (compression === 1 || compression === 2) {
        // decode-bmp ignores RLE and returns garbage: refuse rather than train on it.
        throw new ImageError(
          file,
          'unsupported',
          `RLE${compression === 1 ? 8 : 4}-compressed BMP is not supported; re-save as PNG`,
        );
      }
      const decodeBmp = require('decode-bmp') as (b: Uint8Array) => {
        width: number;
        height: number;
        data: Uint8ClampedArray;
      };
      const img = decodeBmp(buf);
      return {
        width: img.width,
        height: img.height,
        data: new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.byteLength),
      };
    }
    if (format === 'tga') {
      if (buf.length >= 18) guard(buf[12]! | (buf[13]! << 8), buf[14]! | (buf[15]! << 8));
      const { decodeTga } = await import('@lunapaint/tga-codec');
      const { image } = await decodeTga(buf);
      return { width: image.width, height: image.height, data: image.data };
    }
    if (format === 'pnm') return decodePnm(file, buf, guard);
    const decodeHeic = require('heic-decode') as (o: {
      buffer: Uint8Array;
    }) => Promise<{ width: number; height: number; data: Uint8ClampedArray }>;
    const img = await decodeHeic({ buffer: buf });
    guard(img.width, img.height);
    return {
      width: img.width,
      height: img.height,
      data: new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.byteLength),
    };
  } catch (e) {
    if (e instanceof ImageError) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    const reason = /unsupported|not supported|unknown/i.test(msg)
      ? 'unsupported'
      : /end|truncat|out of range|outside the bounds/i.test(msg)
        ? 'truncated'
        : 'corrupt';
    throw new ImageError(file, reason, `${format.toUpperCase()}: ${msg}`);
  }
}

/** Netpbm P2/P3/P5/P6 (grey/colour, ASCII/binary, maxval up to 65535). PBM and PAM are refused. */
function decodePnm(file: string, b: Uint8Array, guard: (w: number, h: number) => void): RawImage {
  const kind = b[1]! - 0x30;
  if (kind === 1 || kind === 4 || kind === 7) {
    throw new ImageError(
      file,
      'unsupported',
      `${kind === 7 ? 'PAM' : 'PBM (1-bit)'} Netpbm files are not supported`,
    );
  }
  let p = 2;
  const token = (): number => {
    for (;;) {
      while (p < b.length && isSpace(b[p]!)) p++;
      if (b[p] === 0x23) while (p < b.length && b[p] !== 0x0a) p++;
      else break;
    }
    const start = p;
    while (p < b.length && b[p]! >= 0x30 && b[p]! <= 0x39) p++;
    if (p === start) throw new ImageError(file, 'corrupt', 'PNM: malformed header');
    return Number(Buffer.from(b.subarray(start, p)).toString('latin1'));
  };
  const width = token();
  const height = token();
  const maxval = token();
  guard(width, height);
  if (maxval < 1 || maxval > 65535) throw new ImageError(file, 'corrupt', `PNM: bad maxval ${maxval}`);
  const ch = kind === 2 || kind === 5 ? 1 : 3;
  const n = width * height * ch;
  const samples = new Uint16Array(n);
  if (kind === 5 || kind === 6) {
    p++; // exactly one whitespace byte after maxval
    const bytes = maxval > 255 ? 2 : 1;
    if (p + n * bytes > b.length) throw new ImageError(file, 'truncated', 'PNM: pixel data truncated');
    for (let i = 0; i < n; i++)
      samples[i] = bytes === 1 ? b[p + i]! : (b[p + 2 * i]! << 8) | b[p + 2 * i + 1]!;
  } else {
    for (let i = 0; i < n; i++) {
      if (p >= b.length) throw new ImageError(file, 'truncated', 'PNM: pixel data truncated');
      samples[i] = token();
    }
  }
  const data = new Uint8Array(width * height * 4);
  for (let i = 0, j = 0; i < width * height; i++, j += 4) {
    const r = samples[i * ch]!;
    const g = ch === 3 ? samples[i * ch + 1]! : r;
    const bl = ch === 3 ? samples[i * ch + 2]! : r;
    data[j] = Math.round((r * 255) / maxval);
    data[j + 1] = Math.round((g * 255) / maxval);
    data[j + 2] = Math.round((bl * 255) / maxval);
    data[j + 3] = 255;
  }
  return { width, height, data };
}

/**
 * Header of a "plain" JPEG: a baseline/extended/progressive Huffman JPEG (SOF0/1/2) with 1 or 3
 * components and neither an EXIF block (no orientation to apply) nor an embedded ICC profile
 * (no colour transform) nor an Adobe marker. For such a file, decoding is the whole geometric part
 * of the pipeline when its size already matches the model input. Null for anything else.
 */
export function plainJpegHeader(b: Uint8Array): { width: number; height: number; components: 1 | 3 } | null {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return null;
  const ascii = (start: number, end: number) =>
    Buffer.from(b.subarray(start, Math.min(end, b.length))).toString('latin1');
  let p = 2;
  let header: { width: number; height: number; components: 1 | 3 } | null = null;
  while (p + 4 <= b.length) {
    if (b[p] !== 0xff) return null;
    const m = b[p + 1]!;
    if (m === 0xff) {
      p += 1;
      continue;
    }
    if (m === 0xda) return header;
    if (m === 0xd8 || m === 0xd9 || (m >= 0xd0 && m <= 0xd7) || m === 0x01) return null;
    const len = (b[p + 2]! << 8) | b[p + 3]!;
    if (len < 2) return null;
    if (m === 0xe1 && ascii(p + 4, p + 8) === 'Exif') return null;
    if (m === 0xe2 && ascii(p + 4, p + 15) === 'ICC_PROFILE') return null;
    if (m === 0xee) return null; // Adobe APP14
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      if (m > 0xc2 || header || p + 10 > b.length) return null;
      const height = (b[p + 5]! << 8) | b[p + 6]!;
      const width = (b[p + 7]! << 8) | b[p + 8]!;
      const n = b[p + 9]!;
      if (!(width > 0 && height > 0) || (n !== 1 && n !== 3)) return null;
      header = { width, height, components: n };
    }
    p += 2 + len;
  }
  return null;
}
