/**
 * A small, strict decoder for plain baseline JPEGs, written to give exactly the pixels that sharp
 * (libvips + mozjpeg/libjpeg-turbo) gives for them, at a fraction of its fixed cost per image
 * (sharp spends ~0.4 ms of CPU on a 32×32 JPEG, almost all of it libvips object set-up; the decode
 * itself is a few tens of µs). It ports libjpeg-turbo's integer paths: Huffman decoding, the
 * "islow" inverse DCT (jidctint.c), "fancy" triangle-filter 4:2:0 chroma upsampling (jdsample.c
 * h2v2, with replicated context rows) and the fixed-point YCbCr → RGB tables (jdcolor.c).
 *
 * It is deliberately narrow: it returns null, and the caller decodes the file with sharp as before,
 * for anything it does not cover exactly or anything on which libjpeg would warn (sharp runs with
 * failOn 'warning', so a warning is an error there): progressive or arithmetic coding, 12-bit,
 * sampling other than 4:4:4 / 4:2:0 / grey, restart markers, non-interleaved scans, colour spaces
 * libjpeg would have to guess, bad Huffman codes, data that ends early or has extra bytes before a
 * marker, anything after the scan other than EOI, and coefficient magnitudes where libjpeg-turbo's
 * SIMD code (16-bit lanes) and its C code could differ. (4:2:2 and restart intervals are left to
 * sharp only because sharp cannot write them, so no test here could check them.)
 */

/** jpeg_natural_order: zig-zag index → natural (row-major) index. */
const NATURAL = Uint8Array.from([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7,
  14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46,
  53, 60, 61, 54, 47, 55, 62, 63,
]);

// jidctint.c constants (CONST_BITS = 13).
const F0_298 = 2446;
const F0_390 = 3196;
const F0_541 = 4433;
const F0_765 = 6270;
const F0_899 = 7373;
const F1_175 = 9633;
const F1_501 = 12299;
const F1_847 = 15137;
const F1_961 = 16069;
const F2_053 = 16819;
const F2_562 = 20995;
const F3_072 = 25172;

/** Largest dequantized coefficient accepted (far above what 8-bit image data produces). */
const MAX_COEF = 2047;

// jdcolor.c build_ycc_rgb_table (SCALEBITS = 16).
const CR_R = new Int32Array(256);
const CB_B = new Int32Array(256);
const CR_G = new Int32Array(256);
const CB_G = new Int32Array(256);
{
  const fix = (x: number) => Math.floor(x * 65536 + 0.5);
  for (let i = 0; i < 256; i++) {
    const x = i - 128;
    CR_R[i] = (fix(1.402) * x + 32768) >> 16;
    CB_B[i] = (fix(1.772) * x + 32768) >> 16;
    CR_G[i] = -fix(0.71414) * x;
    CB_G[i] = -fix(0.34414) * x + 32768;
  }
}

class Fallback extends Error {}
const fallback = (): never => {
  throw new Fallback();
};

interface Huffman {
  /** 9-bit lookahead: (length << 8) | symbol, or 0 when the code is longer than 9 bits. */
  look: Uint16Array;
  maxcode: Int32Array; // [0..17], -1 when no codes of that length; maxcode[17] sentinel
  valoffset: Int32Array;
  values: Uint8Array;
}

/**
 * Huffman tables by their DHT bytes (counts + values) and class: files from one encoder share
 * them, and building the lookahead table costs more than decoding a small image's data.
 */
const huffCache = new Map<string, Huffman>();

function huffman(spec: Uint8Array, isDC: boolean): Huffman {
  const key =
    (isDC ? 'D' : 'A') + Buffer.from(spec.buffer, spec.byteOffset, spec.byteLength).toString('latin1');
  let h = huffCache.get(key);
  if (!h) {
    h = buildHuffman(spec.subarray(0, 16), spec.slice(16), isDC);
    if (huffCache.size >= 64) huffCache.clear();
    huffCache.set(key, h);
  }
  return h;
}

function buildHuffman(counts: Uint8Array, values: Uint8Array, isDC: boolean): Huffman {
  const maxcode = new Int32Array(18).fill(-1);
  const valoffset = new Int32Array(18);
  const look = new Uint16Array(512);
  let code = 0;
  let k = 0;
  for (let l = 1; l <= 16; l++) {
    const n = counts[l - 1]!;
    if (n > 0) {
      valoffset[l] = k - code;
      for (let i = 0; i < n; i++, k++, code++) {
        if (l <= 9) {
          const base = code << (9 - l);
          for (let j = 0; j < 1 << (9 - l); j++) look[base + j] = (l << 8) | values[k]!;
        }
      }
      maxcode[l] = code - 1;
    }
    // jpeg_make_d_derived_tbl: a code that does not fit in its length is an error.
    if (code >= 1 << l) fallback();
    code <<= 1;
  }
  maxcode[17] = 0x7fffffff;
  if (isDC) for (const v of values) if (v > 15) fallback();
  return { look, maxcode, valoffset, values };
}

export interface BaselineJpeg {
  width: number;
  height: number;
  /** 1 (grey) or 3 (RGB). */
  channels: 1 | 3;
  /** HWC, 8-bit. */
  data: Uint8Array;
}

interface Component {
  id: number;
  h: number;
  v: number;
  tq: number;
  td: number;
  ta: number;
  dcH: Huffman | null;
  acH: Huffman | null;
  /** Blocks per line / column in the component's plane (whole MCUs). */
  bw: number;
  bh: number;
  plane: Uint8Array;
  pred: number;
}

/**
 * Decode a plain baseline JPEG exactly as libjpeg-turbo does (see the file comment). Returns null
 * when the file is outside what this decoder covers; the caller then uses sharp.
 */
export function decodeBaselineJpeg(b: Uint8Array): BaselineJpeg | null {
  try {
    return decode(b);
  } catch (e) {
    if (e instanceof Fallback || e instanceof RangeError) return null;
    throw e;
  }
}

function decode(b: Uint8Array): BaselineJpeg | null {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return null;
  const qt: (Int32Array | undefined)[] = [];
  const dc: (Huffman | undefined)[] = [];
  const ac: (Huffman | undefined)[] = [];
  let comps: Component[] | null = null;
  let width = 0;
  let height = 0;
  let jfif = false;
  let p = 2;
  for (;;) {
    if (p + 4 > b.length || b[p] !== 0xff) return null;
    const m = b[p + 1]!;
    if (m === 0xff || m === 0xd8 || m === 0xd9 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) return null;
    const len = (b[p + 2]! << 8) | b[p + 3]!;
    const end = p + 2 + len;
    if (len < 2 || end > b.length) return null;
    const s = p + 4;
    if (m === 0xe0) {
      if (len - 2 >= 14 && b[s] === 0x4a && b[s + 1] === 0x46 && b[s + 2] === 0x49 && b[s + 3] === 0x46) {
        if (b[s + 4] !== 0) return null;
        if (b[s + 5] !== 1) return null; // JFIF major version other than 1: libjpeg warns
        jfif = true;
      }
    } else if (m === 0xe1 || m === 0xe2 || m === 0xee) {
      // EXIF (orientation), ICC (colour transform), Adobe (colour transform): sharp's business.
      const id = Buffer.from(b.subarray(s, Math.min(end, s + 12))).toString('latin1');
      if (m === 0xee || id.startsWith('Exif') || id.startsWith('ICC_PROFILE')) return null;
    } else if (m === 0xdb) {
      let q = s;
      while (q < end) {
        const pq = b[q]! >> 4;
        const tq = b[q]! & 15;
        if (tq > 3 || pq > 1) return null;
        const n = pq ? 128 : 64;
        if (q + 1 + n > end) return null;
        const t = new Int32Array(64);
        for (let i = 0; i < 64; i++)
          t[NATURAL[i]!] = pq ? (b[q + 1 + 2 * i]! << 8) | b[q + 2 + 2 * i]! : b[q + 1 + i]!;
        qt[tq] = t;
        q += 1 + n;
      }
      if (q !== end) return null;
    } else if (m === 0xc4) {
      let q = s;
      while (q < end) {
        const tc = b[q]! >> 4;
        const th = b[q]! & 15;
        if (tc > 1 || th > 3 || q + 17 > end) return null;
        const counts = b.subarray(q + 1, q + 17);
        let n = 0;
        for (const c of counts) n += c;
        if (n > 256 || q + 17 + n > end) return null;
        const h = huffman(b.subarray(q + 1, q + 17 + n), tc === 0);
        (tc === 0 ? dc : ac)[th] = h;
        q += 17 + n;
      }
      if (q !== end) return null;
    } else if (m === 0xdd) {
      if (len !== 4 || ((b[s]! << 8) | b[s + 1]!) !== 0) return null; // restart intervals: sharp
    } else if (m === 0xc0 || m === 0xc1) {
      if (comps || len < 8 || b[s] !== 8) return null;
      height = (b[s + 1]! << 8) | b[s + 2]!;
      width = (b[s + 3]! << 8) | b[s + 4]!;
      const n = b[s + 5]!;
      if (!(width > 0 && height > 0) || (n !== 1 && n !== 3) || len !== 8 + 3 * n) return null;
      comps = [];
      for (let i = 0; i < n; i++) {
        const o = s + 6 + 3 * i;
        const hv = b[o + 1]!;
        // libjpeg: sampling factors 1..4 ("Bogus sampling factors"); ids distinct (ours, to be safe).
        if (hv >> 4 < 1 || hv >> 4 > 4 || (hv & 15) < 1 || (hv & 15) > 4) return null;
        if (comps.some((c) => c.id === b[o])) return null;
        comps.push({
          id: b[o]!,
          h: b[o + 1]! >> 4,
          v: b[o + 1]! & 15,
          tq: b[o + 2]!,
          td: 0,
          ta: 0,
          dcH: null,
          acH: null,
          bw: 0,
          bh: 0,
          plane: new Uint8Array(0),
          pred: 0,
        });
      }
    } else if (m === 0xda) {
      if (!comps) return null;
      return decodeScan(b, s, end, comps, width, height, qt, dc, ac, jfif);
    } else if (!(m >= 0xe0 && m <= 0xef) && m !== 0xfe) {
      // Only APPn and COM are skipped. Everything else: another SOF type (progressive, lossless,
      // arithmetic…), DAC, DNL, or a reserved code, which libjpeg refuses ("Unsupported marker").
      return null;
    }
    p = end;
  }
}

function decodeScan(
  b: Uint8Array,
  s: number,
  end: number,
  comps: Component[],
  width: number,
  height: number,
  qt: (Int32Array | undefined)[],
  dcTables: (Huffman | undefined)[],
  acTables: (Huffman | undefined)[],
  jfif: boolean,
): BaselineJpeg | null {
  const ns = b[s]!;
  if (ns !== comps.length || end - s !== 4 + 2 * ns) return null; // interleaved scans only
  const order: Component[] = [];
  for (let i = 0; i < ns; i++) {
    const c = comps.find((x) => x.id === b[s + 1 + 2 * i]);
    if (!c || order.includes(c)) return null;
    c.td = b[s + 2 + 2 * i]! >> 4;
    c.ta = b[s + 2 + 2 * i]! & 15;
    order.push(c);
  }
  const o = s + 1 + 2 * ns;
  if (b[o] !== 0 || b[o + 1] !== 63 || b[o + 2] !== 0) return null; // Ss, Se, Ah/Al of a sequential scan

  // Colour space (libjpeg's default_decompress_parms): JFIF or ids 1,2,3 → YCbCr; anything else is
  // a guess (or RGB) that we leave to sharp.
  const n = comps.length;
  if (n === 3 && !jfif && !(comps[0]!.id === 1 && comps[1]!.id === 2 && comps[2]!.id === 3)) return null;
  // Sampling: grey (any factors: a one-component scan has 1-block MCUs), 4:4:4, 4:2:0.
  let hmax = 1;
  let vmax = 1;
  if (n === 3) {
    const [y, cb, cr] = comps as [Component, Component, Component];
    if (cb.h !== 1 || cb.v !== 1 || cr.h !== 1 || cr.v !== 1) return null;
    if (!((y.h === 1 && y.v === 1) || (y.h === 2 && y.v === 2))) return null;
    hmax = y.h;
    vmax = y.v;
    // libjpeg-turbo only uses the fancy upsampler when the chroma plane is wider than 2 samples.
    if (hmax === 2 && Math.ceil(width / 2) <= 2) return null;
  } else {
    comps[0]!.h = comps[0]!.v = 1;
  }
  for (const c of comps) {
    c.dcH = dcTables[c.td] ?? null;
    c.acH = acTables[c.ta] ?? null;
    if (!qt[c.tq] || !c.dcH || !c.acH) return null;
  }
  const mcux = Math.ceil(width / (8 * hmax));
  const mcuy = Math.ceil(height / (8 * vmax));
  for (const c of comps) {
    if (n === 1) {
      c.bw = Math.ceil(width / 8);
      c.bh = Math.ceil(height / 8);
    } else {
      c.bw = mcux * c.h;
      c.bh = mcuy * c.v;
    }
    c.pred = 0;
  }
  comps.forEach((c, i) => (c.plane = scratch(i, c.bw * 8 * c.bh * 8)));
  const totalMcus = n === 1 ? comps[0]!.bw * comps[0]!.bh : mcux * mcuy;

  const reader = READER;
  // The entropy-coded data runs from the end of the SOS header to the next marker, which must be EOI.
  const eoi = reader.load(b, end);
  for (let mcu = 0; mcu < totalMcus; mcu++) {
    if (n === 1) {
      const c = comps[0]!;
      decodeBlock(reader, c, qt[c.tq]!);
      idctBlock(c.plane, c.bw * 8, ((mcu / c.bw) | 0) * 8, (mcu % c.bw) * 8);
    } else {
      const mx = mcu % mcux;
      const my = (mcu / mcux) | 0;
      for (const c of order) {
        const stride = c.bw * 8;
        for (let by = 0; by < c.v; by++)
          for (let bx = 0; bx < c.h; bx++) {
            decodeBlock(reader, c, qt[c.tq]!);
            idctBlock(c.plane, stride, (my * c.v + by) * 8, (mx * c.h + bx) * 8);
          }
      }
    }
  }
  // Every bit used, none past the end (libjpeg: "premature end of data segment"), less than one
  // byte left over (padding; more is "extraneous bytes before marker"), then EOI.
  if (!reader.finishedCleanly() || b[eoi + 1] !== 0xd9) return null;

  const out = new Uint8Array(width * height * n);
  if (n === 1) {
    const c = comps[0]!;
    const stride = c.bw * 8;
    for (let y = 0; y < height; y++) out.set(c.plane.subarray(y * stride, y * stride + width), y * width);
    return { width, height, channels: 1, data: out };
  }
  const [yc, cbc, crc] = comps as [Component, Component, Component];
  let cb = cbc.plane;
  let cr = crc.plane;
  let cstride = cbc.bw * 8;
  if (hmax === 2) {
    const dw = Math.ceil(width / 2);
    const dh = Math.ceil(height / 2);
    cb = upsampleH2V2(cbc.plane, cstride, dw, dh, height, scratch(3, dw * 2 * height));
    cr = upsampleH2V2(crc.plane, cstride, dw, dh, height, scratch(4, dw * 2 * height));
    cstride = dw * 2;
  }
  const ys = yc.bw * 8;
  for (let y = 0, q = 0; y < height; y++) {
    const yr = y * ys;
    const cro = y * cstride;
    for (let x = 0; x < width; x++, q += 3) {
      const Y = yc.plane[yr + x]!;
      const vb = cb[cro + x]!;
      const vr = cr[cro + x]!;
      out[q] = clamp(Y + CR_R[vr]!);
      out[q + 1] = clamp(Y + ((CB_G[vb]! + CR_G[vr]!) >> 16));
      out[q + 2] = clamp(Y + CB_B[vb]!);
    }
  }
  return { width, height, channels: 3, data: out };
}

const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);

// Scratch space reused from call to call (decoding is synchronous): component planes (0–2),
// upsampled chroma (3–4), one block's coefficients and the IDCT's work area, the bit reader.
const scratchBufs: Uint8Array[] = [];
function scratch(i: number, size: number): Uint8Array {
  let a = scratchBufs[i];
  if (!a || a.length < size) {
    a = new Uint8Array(Math.max(size, 4096));
    scratchBufs[i] = a;
  }
  return a;
}
const coef = new Int32Array(64);
const ws = new Int32Array(64);

/**
 * h2v2_fancy_upsample: each output row mixes its nearest input row (×3) with the next nearest
 * (above for even rows, below for odd); the rows above the first and below the last real row
 * replicate them (libjpeg's context rows).
 */
function upsampleH2V2(
  src: Uint8Array,
  stride: number,
  dw: number,
  dh: number,
  rows: number,
  out: Uint8Array,
): Uint8Array {
  const ow = dw * 2;
  for (let orow = 0; orow < rows; orow++) {
    const r = orow >> 1;
    const near = r * stride;
    const farRow = orow & 1 ? Math.min(r + 1, dh - 1) : Math.max(r - 1, 0);
    const far = farRow * stride;
    let o = orow * ow;
    let thiscol = src[near]! * 3 + src[far]!;
    let nextcol = src[near + 1]! * 3 + src[far + 1]!;
    out[o++] = (thiscol * 4 + 8) >> 4;
    out[o++] = (thiscol * 3 + nextcol + 7) >> 4;
    let lastcol = thiscol;
    thiscol = nextcol;
    for (let c = 2; c < dw; c++) {
      nextcol = src[near + c]! * 3 + src[far + c]!;
      out[o++] = (thiscol * 3 + lastcol + 8) >> 4;
      out[o++] = (thiscol * 3 + nextcol + 7) >> 4;
      lastcol = thiscol;
      thiscol = nextcol;
    }
    out[o] = (thiscol * 3 + lastcol + 8) >> 4;
    out[o + 1] = (thiscol * 4 + 7) >> 4;
  }
  return out;
}

/** Reads the unstuffed entropy-coded bytes of a scan, MSB first. */
class BitReader {
  private data = new Uint8Array(4096);
  private bytes = 0;
  private pos = 0; // in bits

  /** Copy the data starting at b[p] up to the next marker (unstuffing FF 00); returns the marker's offset. */
  load(b: Uint8Array, p: number): number {
    let n = 0;
    let d = this.data;
    const len = b.length;
    for (;;) {
      if (p >= len) fallback(); // no marker before the end of the file
      const v = b[p]!;
      if (v === 0xff) {
        if (p + 1 < len && b[p + 1] === 0) p += 2;
        else break;
      } else p++;
      if (n + 4 >= d.length) {
        const bigger = new Uint8Array(d.length * 2);
        bigger.set(d);
        this.data = d = bigger;
      }
      d[n++] = v;
    }
    d.fill(0, n, n + 4);
    this.bytes = n;
    this.pos = 0;
    return p;
  }

  /** The next 16 bits (zeros past the end), without consuming them. */
  peek16(): number {
    const i = this.pos >> 3;
    const d = this.data;
    const w = (d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!;
    return (w >> (8 - (this.pos & 7))) & 0xffff;
  }

  skip(n: number): void {
    this.pos += n;
  }

  bits(n: number): number {
    if (n === 0) return 0;
    const v = this.peek16() >> (16 - n);
    this.pos += n;
    return v;
  }

  finishedCleanly(): boolean {
    const left = this.bytes * 8 - this.pos;
    return left >= 0 && left < 8;
  }

  decode(h: Huffman): number {
    const w = this.peek16();
    const e = h.look[w >> 7]!;
    if (e !== 0) {
      this.pos += e >> 8;
      return e & 0xff;
    }
    for (let l = 10; l <= 16; l++) {
      const code = w >> (16 - l);
      if (code <= h.maxcode[l]!) {
        this.pos += l;
        return h.values[code + h.valoffset[l]!]!;
      }
    }
    return fallback(); // libjpeg: "Corrupt JPEG data: bad Huffman code"
  }
}

const extend = (v: number, s: number) => (v < 1 << (s - 1) ? v - (1 << s) + 1 : v);

const READER = new BitReader();

/** Decode one block's coefficients into `coef`, dequantized (natural order). */
function decodeBlock(r: BitReader, c: Component, q: Int32Array): void {
  coef.fill(0);
  const t = r.decode(c.dcH!);
  if (t > 0) c.pred += extend(r.bits(t), t);
  coef[0] = dequantize(c.pred, q[0]!);
  const ac = c.acH!;
  for (let k = 1; k < 64;) {
    const rs = r.decode(ac);
    const s = rs & 15;
    const run = rs >> 4;
    if (s === 0) {
      if (run !== 15) break;
      k += 16;
      continue;
    }
    k += run;
    if (k > 63) fallback();
    const z = NATURAL[k]!;
    coef[z] = dequantize(extend(r.bits(s), s), q[z]!);
    k++;
  }
}

function dequantize(v: number, q: number): number {
  const d = v * q;
  if (d > MAX_COEF || d < -MAX_COEF) fallback();
  return d;
}

/** jpeg_idct_islow of `coef`, writing 8×8 samples at (row, col) of a plane with the given stride. */
function idctBlock(out: Uint8Array, stride: number, row: number, col: number): void {
  // Pass 1: columns → ws (scaled up by 2^PASS1_BITS).
  for (let c = 0; c < 8; c++) {
    if (
      coef[8 + c] === 0 &&
      coef[16 + c] === 0 &&
      coef[24 + c] === 0 &&
      coef[32 + c] === 0 &&
      coef[40 + c] === 0 &&
      coef[48 + c] === 0 &&
      coef[56 + c] === 0
    ) {
      const dcval = coef[c]! * 4;
      for (let k = 0; k < 64; k += 8) ws[k + c] = dcval;
      continue;
    }
    let z2 = coef[16 + c]!;
    let z3 = coef[48 + c]!;
    let z1 = (z2 + z3) * F0_541;
    let tmp2 = z1 - z3 * F1_847;
    let tmp3 = z1 + z2 * F0_765;
    z2 = coef[c]!;
    z3 = coef[32 + c]!;
    let tmp0 = (z2 + z3) * 8192;
    let tmp1 = (z2 - z3) * 8192;
    const tmp10 = tmp0 + tmp3;
    const tmp13 = tmp0 - tmp3;
    const tmp11 = tmp1 + tmp2;
    const tmp12 = tmp1 - tmp2;
    tmp0 = coef[56 + c]!;
    tmp1 = coef[40 + c]!;
    tmp2 = coef[24 + c]!;
    tmp3 = coef[8 + c]!;
    z1 = tmp0 + tmp3;
    z2 = tmp1 + tmp2;
    z3 = tmp0 + tmp2;
    let z4 = tmp1 + tmp3;
    const z5 = (z3 + z4) * F1_175;
    tmp0 *= F0_298;
    tmp1 *= F2_053;
    tmp2 *= F3_072;
    tmp3 *= F1_501;
    z1 *= -F0_899;
    z2 *= -F2_562;
    z3 = z3 * -F1_961 + z5;
    z4 = z4 * -F0_390 + z5;
    tmp0 += z1 + z3;
    tmp1 += z2 + z4;
    tmp2 += z2 + z3;
    tmp3 += z1 + z4;
    ws[c] = (tmp10 + tmp3 + 1024) >> 11;
    ws[56 + c] = (tmp10 - tmp3 + 1024) >> 11;
    ws[8 + c] = (tmp11 + tmp2 + 1024) >> 11;
    ws[48 + c] = (tmp11 - tmp2 + 1024) >> 11;
    ws[16 + c] = (tmp12 + tmp1 + 1024) >> 11;
    ws[40 + c] = (tmp12 - tmp1 + 1024) >> 11;
    ws[24 + c] = (tmp13 + tmp0 + 1024) >> 11;
    ws[32 + c] = (tmp13 - tmp0 + 1024) >> 11;
  }
  // libjpeg-turbo's SIMD code keeps pass-1 results in 16-bit lanes: outside that range it and the C
  // code (and we) could differ.
  for (let i = 0; i < 64; i++) if (ws[i]! > 32767 || ws[i]! < -32768) fallback();
  // Pass 2: rows → samples. Products can pass 2^31 here, so plain (exact double) arithmetic.
  for (let r = 0; r < 8; r++) {
    const w = r * 8;
    const o = (row + r) * stride + col;
    if (
      ws[w + 1] === 0 &&
      ws[w + 2] === 0 &&
      ws[w + 3] === 0 &&
      ws[w + 4] === 0 &&
      ws[w + 5] === 0 &&
      ws[w + 6] === 0 &&
      ws[w + 7] === 0
    ) {
      const v = sample((ws[w]! + 16) >> 5);
      for (let k = 0; k < 8; k++) out[o + k] = v;
      continue;
    }
    let z2 = ws[w + 2]!;
    let z3 = ws[w + 6]!;
    let z1 = (z2 + z3) * F0_541;
    let tmp2 = z1 - z3 * F1_847;
    let tmp3 = z1 + z2 * F0_765;
    let tmp0 = (ws[w]! + ws[w + 4]!) * 8192;
    let tmp1 = (ws[w]! - ws[w + 4]!) * 8192;
    const tmp10 = tmp0 + tmp3;
    const tmp13 = tmp0 - tmp3;
    const tmp11 = tmp1 + tmp2;
    const tmp12 = tmp1 - tmp2;
    tmp0 = ws[w + 7]!;
    tmp1 = ws[w + 5]!;
    tmp2 = ws[w + 3]!;
    tmp3 = ws[w + 1]!;
    z1 = tmp0 + tmp3;
    z2 = tmp1 + tmp2;
    z3 = tmp0 + tmp2;
    let z4 = tmp1 + tmp3;
    const z5 = (z3 + z4) * F1_175;
    tmp0 *= F0_298;
    tmp1 *= F2_053;
    tmp2 *= F3_072;
    tmp3 *= F1_501;
    z1 *= -F0_899;
    z2 *= -F2_562;
    z3 = z3 * -F1_961 + z5;
    z4 = z4 * -F0_390 + z5;
    tmp0 += z1 + z3;
    tmp1 += z2 + z4;
    tmp2 += z2 + z3;
    tmp3 += z1 + z4;
    out[o] = sample(Math.floor((tmp10 + tmp3 + 131072) / 262144));
    out[o + 7] = sample(Math.floor((tmp10 - tmp3 + 131072) / 262144));
    out[o + 1] = sample(Math.floor((tmp11 + tmp2 + 131072) / 262144));
    out[o + 6] = sample(Math.floor((tmp11 - tmp2 + 131072) / 262144));
    out[o + 2] = sample(Math.floor((tmp12 + tmp1 + 131072) / 262144));
    out[o + 5] = sample(Math.floor((tmp12 - tmp1 + 131072) / 262144));
    out[o + 3] = sample(Math.floor((tmp13 + tmp0 + 131072) / 262144));
    out[o + 4] = sample(Math.floor((tmp13 - tmp0 + 131072) / 262144));
  }
}

/**
 * An IDCT output (centred on 0) as a sample: libjpeg's range-limit table clamps to 0..255 for
 * values in -512..511 (wrapping outside, where its SIMD code saturates instead): refuse those.
 */
function sample(v: number): number {
  if (v < -512 || v > 511) fallback();
  v += 128;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}
