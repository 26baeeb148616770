/**
 * A tiled GEMM in WGSL, C[m, n] = Σ_k A[m, k] · B[k, n], whose operands are read through functions
 * (implicit GEMM: A and B are gathered from convolution tensors on the fly, never materialised), with
 * an optional split-K: workgroup z sums only its own chunk of K and writes a partial [split, M, N]
 * that a second pass (`ReduceSplitsProgram`) adds up. The convolution kernels in ./conv.ts give the
 * read/write functions; everything shape-dependent is baked into the shader as constants (one
 * pipeline per layer shape, strength-reduced index arithmetic).
 *
 * Programs follow tfjs-backend-webgpu's WebGPUProgram contract (its compileProgram wraps getUserCode
 * with the bindings: `result` for the output, one read-only array per variable name, `uniforms`).
 */

/** What tfjs-backend-webgpu's runWebGPUProgram needs from a program (its own type is not exported). */
export interface WebGpuProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[]; y?: number[]; z?: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  size?: boolean;
  uniforms?: string;
  getUserCode(): string;
}

/** Work split of one GEMM: a workgroup computes TM×TN outputs, each thread RM×RN of them. */
export interface Tile {
  TM: number;
  TN: number;
  TK: number;
  RM: number;
  RN: number;
}

/** Tile shapes by the width N of the GEMM (output channels or input channels). 256 threads each. */
export function pickTile(N: number): Tile {
  if (N <= 16) return { TM: 128, TN: 16, TK: 16, RM: 8, RN: 1 };
  if (N <= 32) return { TM: 64, TN: 32, TK: 16, RM: 4, RN: 2 };
  return { TM: 64, TN: 64, TK: 16, RM: 4, RN: 4 };
}

/** Workgroups to aim for with split-K (a few per SM on a large GPU); env RANK1_WEBGPU_SPLITK_TARGET. */
export function splitTarget(): number {
  const v = Number(process.env.RANK1_WEBGPU_SPLITK_TARGET);
  return Number.isFinite(v) && v >= 1 ? Math.floor(v) : 1024;
}

/**
 * How many K-chunks to split into: enough workgroups to fill the GPU, each chunk at least
 * `minTiles` K-tiles long. Returns the number of splits and the chunk length (a multiple of TK).
 */
export function planSplitK(
  M: number,
  N: number,
  K: number,
  tile: Tile,
  target = splitTarget(),
  minTiles = 8,
): { splits: number; kChunk: number } {
  const tiles = Math.ceil(M / tile.TM) * Math.ceil(N / tile.TN);
  const kTiles = Math.ceil(K / tile.TK);
  let splits = Math.max(1, Math.min(Math.ceil(target / tiles), Math.floor(kTiles / minTiles), 65535));
  const chunkTiles = Math.ceil(kTiles / splits);
  splits = Math.ceil(kTiles / chunkTiles);
  return { splits, kChunk: chunkTiles * tile.TK };
}

export interface GemmSpec {
  /** Unique key of the baked constants and read/write functions. */
  key: string;
  M: number;
  N: number;
  K: number;
  tile: Tile;
  /** Which index runs fastest across threads when staging A (B): follow the contiguous memory axis. */
  aFast: 'm' | 'k';
  bFast: 'n' | 'k';
  splits: number;
  kChunk: number;
  variableNames: string[];
  outputShape: number[];
  /**
   * WGSL defining `fn readA(m: i32, k: i32) -> f32`, `fn readB(k: i32, n: i32) -> f32` (called only
   * with 0 ≤ m < M, 0 ≤ n < N, 0 ≤ k < K) and `fn writeC(split: i32, m: i32, n: i32, v: f32)`.
   */
  functions: string;
}

const c = (n: number): string => `${Math.trunc(n)}`;

/** The tiled implicit GEMM program. Dispatch: x = M tiles, y = N tiles, z = K splits. */
export class ImplicitGemmProgram implements WebGpuProgram {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [0], y: [1], z: [2] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  size = false;

  constructor(readonly spec: GemmSpec) {
    const { TM, TN, RM, RN } = spec.tile;
    this.variableNames = spec.variableNames;
    this.outputShape = spec.outputShape;
    this.workgroupSize = [(TM / RM) * (TN / RN), 1, 1];
    this.dispatch = [Math.ceil(spec.M / TM), Math.ceil(spec.N / TN), spec.splits];
    this.shaderKey = `rank1gemm_${spec.key}_${spec.M}_${spec.N}_${spec.K}_${TM}_${TN}_${spec.tile.TK}_${RM}_${RN}_${spec.aFast}${spec.bFast}_${spec.splits}_${spec.kChunk}`;
  }

  getUserCode(): string {
    const { M, N, K, tile, kChunk } = this.spec;
    const { TM, TN, TK, RM, RN } = tile;
    const TX = TN / RN;
    const TY = TM / RM;
    const WG = TX * TY;
    const AS = TM + 4; // padded row strides of the staged tiles (fewer bank conflicts)
    const BS = TN + 4;
    const aLoads = (TK * TM) / WG;
    const bLoads = (TK * TN) / WG;
    if (!Number.isInteger(aLoads) || !Number.isInteger(bLoads)) throw new Error('tile does not divide');
    const loadA = Array.from({ length: aLoads }, (_, i) => {
      const idx = `tid + ${c(i * WG)}`;
      const [mm, kk] =
        this.spec.aFast === 'm'
          ? [`(${idx}) % ${TM}`, `(${idx}) / ${TM}`]
          : [`(${idx}) / ${TK}`, `(${idx}) % ${TK}`];
      return `{ let mm = ${mm}; let kk = ${kk}; let m = m0 + mm; let k = k0 + kk;
        var v = 0.0; if (m < G_M && k < kEnd) { v = readA(m, k); } As[kk * ${AS} + mm] = v; }`;
    }).join('\n      ');
    const loadB = Array.from({ length: bLoads }, (_, i) => {
      const idx = `tid + ${c(i * WG)}`;
      const [nn, kk] =
        this.spec.bFast === 'n'
          ? [`(${idx}) % ${TN}`, `(${idx}) / ${TN}`]
          : [`(${idx}) / ${TK}`, `(${idx}) % ${TK}`];
      return `{ let nn = ${nn}; let kk = ${kk}; let n = n0 + nn; let k = k0 + kk;
        var v = 0.0; if (n < G_N && k < kEnd) { v = readB(k, n); } Bs[kk * ${BS} + nn] = v; }`;
    }).join('\n      ');
    const regA = Array.from({ length: RM }, (_, i) => `let a${i} = As[kk * ${AS} + ty + ${i * TY}];`).join(
      ' ',
    );
    const regB = Array.from({ length: RN }, (_, j) => `let b${j} = Bs[kk * ${BS} + tx + ${j * TX}];`).join(
      ' ',
    );
    const fmas: string[] = [];
    for (let i = 0; i < RM; i++)
      for (let j = 0; j < RN; j++) fmas.push(`acc${i}_${j} = fma(a${i}, b${j}, acc${i}_${j});`);
    const accs: string[] = [];
    const writes: string[] = [];
    for (let i = 0; i < RM; i++)
      for (let j = 0; j < RN; j++) {
        accs.push(`var acc${i}_${j} = 0.0;`);
        writes.push(`{ let m = m0 + ty + ${i * TY}; let n = n0 + tx + ${j * TX};
        if (m < G_M && n < G_N) { writeC(split, m, n, acc${i}_${j}); } }`);
      }
    return `
const G_M: i32 = ${c(M)};
const G_N: i32 = ${c(N)};
const G_K: i32 = ${c(K)};
${this.spec.functions}
var<workgroup> As: array<f32, ${TK * AS}>;
var<workgroup> Bs: array<f32, ${TK * BS}>;

fn main() {
  _ = uniforms.NAN; // keeps the uniforms binding in the 'auto' layout that tfjs binds
  let tid = i32(localIndex);
  let tx = tid % ${TX};
  let ty = tid / ${TX};
  let m0 = i32(workgroupId.x) * ${TM};
  let n0 = i32(workgroupId.y) * ${TN};
  let split = i32(workgroupId.z);
  let kBegin = split * ${kChunk};
  let kEnd = min(kBegin + ${kChunk}, G_K);
  ${accs.join(' ')}
  for (var t = 0; t < ${kChunk / TK}; t++) {
    let k0 = kBegin + t * ${TK};
    ${loadA}
    ${loadB}
    workgroupBarrier();
    for (var kk = 0; kk < ${TK}; kk++) {
      ${regA}
      ${regB}
      ${fmas.join(' ')}
    }
    workgroupBarrier();
  }
  ${writes.join('\n  ')}
}
`;
  }
}

/** out[i] = Σ_s partials[s, i]: the second pass of a split-K GEMM. */
export class ReduceSplitsProgram implements WebGpuProgram {
  variableNames = ['partials'];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [0], y: [1], z: [2] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = false;

  constructor(
    readonly splits: number,
    readonly length: number,
    outputShape: number[],
  ) {
    this.outputShape = outputShape;
    this.dispatch = [Math.ceil(length / 64), 1, 1];
    this.shaderKey = `rank1reduce_${splits}_${length}`;
  }

  getUserCode(): string {
    return `
fn main() {
  _ = uniforms.NAN;
  let i = i32(globalId.x);
  if (i < ${c(this.length)}) {
    var s = 0.0;
    for (var p = 0; p < ${c(this.splits)}; p++) { s = s + partials[p * ${c(this.length)} + i]; }
    result[i] = s;
  }
}
`;
  }
}
