/**
 * Convolutions as implicit GEMMs for the webgpu backend (NHWC, any padding, dilation 1, float32):
 *
 * - forward      y[(b,oh,ow), co]  = Σ_(kh,kw,ci) x[b, oh·s−pt+kh, ow·s−pl+kw, ci]·α[b,ci] · W[(kh,kw,ci), co]
 *                then ·γ[b,co] + bias[b,co], optional ReLU, in the GEMM's epilogue (rank-1 layer).
 * - filter grad  dW[(kh,kw,ci), co] = Σ_(b,oh,ow) x[…]·α[b,ci] · dy'[(b,oh,ow), co]·γ[b,co], split-K
 *                over the long K = N·Ho·Wo (tfjs's Conv2DDerFilterProgram runs one thread per filter
 *                element, each looping over all of N·Ho·Wo: 2,304 threads for a 3×3×16×16 filter).
 * - input grad   dxα[(b,ih,iw), ci] = Σ_(kh,kw,co) dy'[b, (ih+pt−kh)/s, (iw+pl−kw)/s, co]·γ[b,co] · W[kh,kw,ci,co]
 *                (terms whose division is inexact or out of range are zero).
 *
 * dy' is dy already masked by the ReLU's derivative when one is fused (./rank1-conv.ts). α, γ and bias
 * are per-row ([N, C]) vectors; with none of them these are plain Conv2D / Conv2DBackpropFilter / Input.
 */
import * as tf from '@tensorflow/tfjs';
import {
  ImplicitGemmProgram,
  pickTile,
  planSplitK,
  ReduceSplitsProgram,
  type GemmSpec,
  type WebGpuProgram,
} from './gemm.js';
import { nhwcConvInfo } from '../conv-info.js';

/** The part of tfjs-backend-webgpu's WebGPUBackend used here. */
export interface WebGpuBackendLike {
  runWebGPUProgram(
    program: WebGpuProgram,
    inputs: tf.TensorInfo[],
    dtype: 'float32',
    uniforms?: { type: string; data: number[] }[],
  ): tf.TensorInfo;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
}

export interface ConvGeom {
  N: number;
  H: number;
  W: number;
  Ci: number;
  Ho: number;
  Wo: number;
  Co: number;
  KH: number;
  KW: number;
  sh: number;
  sw: number;
  pt: number;
  pl: number;
}

/** NHWC geometry via tfjs's own computeConv2DInfo, or undefined when these kernels do not apply. */
export function convGeom(
  xShape: number[],
  filterShape: number[],
  strides: number | [number, number],
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding,
  dataFormat: string = 'NHWC',
  dilations: number | [number, number] = 1,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): ConvGeom | undefined {
  if (dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') return undefined;
  const d = typeof dilations === 'number' ? [dilations, dilations] : dilations;
  if (d[0] !== 1 || d[1] !== 1) return undefined;
  const info = nhwcConvInfo(xShape, filterShape, strides, pad, dimRoundingMode);
  return {
    N: info.batchSize,
    H: info.inHeight,
    W: info.inWidth,
    Ci: info.inChannels,
    Ho: info.outHeight,
    Wo: info.outWidth,
    Co: info.outChannels,
    KH: info.filterHeight,
    KW: info.filterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    pt: info.padInfo.top,
    pl: info.padInfo.left,
  };
}

const geomKey = (g: ConvGeom): string =>
  `${g.N}_${g.H}_${g.W}_${g.Ci}_${g.Ho}_${g.Wo}_${g.Co}_${g.KH}_${g.KW}_${g.sh}_${g.sw}_${g.pt}_${g.pl}`;

/** The largest dispatch per dimension WebGPU guarantees. */
const MAX_GROUPS = 65535;

export interface Rank1Parts {
  alpha?: boolean;
  gamma?: boolean;
  bias?: boolean;
  relu?: boolean;
}

const flags = (p: Rank1Parts): string =>
  `${p.alpha ? 'a' : ''}${p.gamma ? 'g' : ''}${p.bias ? 'b' : ''}${p.relu ? 'r' : ''}`;

/** GEMM for the forward convolution (with the rank-1 prologue/epilogue when asked). Input order:
 * x, W, alpha?, gamma?, bias?. */
export function forwardSpec(g: ConvGeom, p: Rank1Parts): GemmSpec {
  const M = g.N * g.Ho * g.Wo;
  const K = g.KH * g.KW * g.Ci;
  const tile = pickTile(g.Co);
  return {
    key: `fwd${flags(p)}_${geomKey(g)}`,
    M,
    N: g.Co,
    K,
    tile,
    aFast: 'k',
    bFast: 'n',
    splits: 1,
    kChunk: Math.ceil(K / tile.TK) * tile.TK,
    variableNames: [
      'x',
      'W',
      ...(p.alpha ? ['alpha'] : []),
      ...(p.gamma ? ['gamma'] : []),
      ...(p.bias ? ['bias'] : []),
    ],
    outputShape: [g.N, g.Ho, g.Wo, g.Co],
    functions: `
fn readA(m: i32, k: i32) -> f32 {
  let ci = k % ${g.Ci}; let t = k / ${g.Ci}; let kw = t % ${g.KW}; let kh = t / ${g.KW};
  let ow = m % ${g.Wo}; let t2 = m / ${g.Wo}; let oh = t2 % ${g.Ho}; let b = t2 / ${g.Ho};
  let ih = oh * ${g.sh} - ${g.pt} + kh; let iw = ow * ${g.sw} - ${g.pl} + kw;
  if (ih < 0 || ih >= ${g.H} || iw < 0 || iw >= ${g.W}) { return 0.0; }
  return x[((b * ${g.H} + ih) * ${g.W} + iw) * ${g.Ci} + ci]${p.alpha ? ` * alpha[b * ${g.Ci} + ci]` : ''};
}
fn readB(k: i32, n: i32) -> f32 { return W[k * ${g.Co} + n]; }
fn writeC(split: i32, m: i32, n: i32, v: f32) {
  var r = v;
  ${p.gamma || p.bias ? `let row = (m / ${g.Ho * g.Wo}) * ${g.Co} + n;` : ''}
  ${p.gamma ? 'r = r * gamma[row];' : ''}
  ${p.bias ? 'r = r + bias[row];' : ''}
  ${p.relu ? 'r = max(r, 0.0);' : ''}
  result[m * ${g.Co} + n] = r;
}`,
  };
}

/** GEMM for the filter gradient, split over K = N·Ho·Wo. Input order: x, dy, alpha?, gamma?. */
export function filterGradSpec(g: ConvGeom, p: Rank1Parts, target?: number): GemmSpec {
  const M = g.KH * g.KW * g.Ci;
  const K = g.N * g.Ho * g.Wo;
  const tile = pickTile(g.Co);
  const { splits, kChunk } = planSplitK(M, g.Co, K, tile, target);
  const filterShape = [g.KH, g.KW, g.Ci, g.Co];
  return {
    key: `dw${flags(p)}_${geomKey(g)}`,
    M,
    N: g.Co,
    K,
    tile,
    aFast: 'm',
    bFast: 'n',
    splits,
    kChunk,
    variableNames: ['x', 'dy', ...(p.alpha ? ['alpha'] : []), ...(p.gamma ? ['gamma'] : [])],
    outputShape: splits === 1 ? filterShape : [splits, M * g.Co],
    functions: `
fn readA(m: i32, k: i32) -> f32 {
  let ci = m % ${g.Ci}; let t = m / ${g.Ci}; let kw = t % ${g.KW}; let kh = t / ${g.KW};
  let ow = k % ${g.Wo}; let t2 = k / ${g.Wo}; let oh = t2 % ${g.Ho}; let b = t2 / ${g.Ho};
  let ih = oh * ${g.sh} - ${g.pt} + kh; let iw = ow * ${g.sw} - ${g.pl} + kw;
  if (ih < 0 || ih >= ${g.H} || iw < 0 || iw >= ${g.W}) { return 0.0; }
  return x[((b * ${g.H} + ih) * ${g.W} + iw) * ${g.Ci} + ci]${p.alpha ? ` * alpha[b * ${g.Ci} + ci]` : ''};
}
fn readB(k: i32, n: i32) -> f32 {
  let i = k * ${g.Co} + n;
  var v = dy[i];
  ${p.gamma ? `v = v * gamma[(k / ${g.Ho * g.Wo}) * ${g.Co} + n];` : ''}
  return v;
}
fn writeC(split: i32, m: i32, n: i32, v: f32) { result[split * ${M * g.Co} + m * ${g.Co} + n] = v; }`,
  };
}

/** GEMM for the input gradient (dx before the α scaling). Input order: dy, W, gamma?. */
export function inputGradSpec(g: ConvGeom, p: Rank1Parts): GemmSpec {
  const M = g.N * g.H * g.W;
  const K = g.KH * g.KW * g.Co;
  const tile = pickTile(g.Ci);
  const strided = g.sh !== 1 || g.sw !== 1;
  return {
    key: `dx${flags(p)}_${geomKey(g)}`,
    M,
    N: g.Ci,
    K,
    tile,
    aFast: 'k',
    bFast: 'k',
    splits: 1,
    kChunk: Math.ceil(K / tile.TK) * tile.TK,
    variableNames: ['dy', 'W', ...(p.gamma ? ['gamma'] : [])],
    outputShape: [g.N, g.H, g.W, g.Ci],
    functions: `
fn readA(m: i32, k: i32) -> f32 {
  let co = k % ${g.Co}; let t = k / ${g.Co}; let kw = t % ${g.KW}; let kh = t / ${g.KW};
  let iw = m % ${g.W}; let t2 = m / ${g.W}; let ih = t2 % ${g.H}; let b = t2 / ${g.H};
  let ohs = ih + ${g.pt} - kh; let ows = iw + ${g.pl} - kw;
  if (ohs < 0 || ows < 0) { return 0.0; }
  ${strided ? `if (ohs % ${g.sh} != 0 || ows % ${g.sw} != 0) { return 0.0; }` : ''}
  let oh = ohs / ${g.sh}; let ow = ows / ${g.sw};
  if (oh >= ${g.Ho} || ow >= ${g.Wo}) { return 0.0; }
  let i = ((b * ${g.Ho} + oh) * ${g.Wo} + ow) * ${g.Co} + co;
  var v = dy[i];
  ${p.gamma ? `v = v * gamma[b * ${g.Co} + co];` : ''}
  return v;
}
fn readB(k: i32, n: i32) -> f32 {
  let co = k % ${g.Co}; let khw = k / ${g.Co};
  return W[(khw * ${g.Ci} + n) * ${g.Co} + co];
}
fn writeC(split: i32, m: i32, n: i32, v: f32) { result[m * ${g.Ci} + n] = v; }`,
  };
}

/** True when a GEMM's dispatch fits WebGPU's per-dimension limit. */
export function fits(spec: GemmSpec): boolean {
  return (
    Math.ceil(spec.M / spec.tile.TM) <= MAX_GROUPS &&
    Math.ceil(spec.N / spec.tile.TN) <= MAX_GROUPS &&
    spec.splits <= MAX_GROUPS
  );
}

/** Runs a GEMM spec; a split-K one is followed by its reduction pass. */
export function runGemm(
  backend: WebGpuBackendLike,
  spec: GemmSpec,
  inputs: tf.TensorInfo[],
  finalShape: number[],
): tf.TensorInfo {
  const out = backend.runWebGPUProgram(new ImplicitGemmProgram(spec), inputs, 'float32');
  if (spec.splits === 1) return out;
  const reduced = backend.runWebGPUProgram(
    new ReduceSplitsProgram(spec.splits, spec.M * spec.N, finalShape),
    [out],
    'float32',
  );
  backend.disposeData(out.dataId);
  return reduced;
}
