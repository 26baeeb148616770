/**
 * Out-of-distribution scores (higher = more unusual) and the statistics they need.
 *
 * - entropy: H[p̄]; mutual_information: the epistemic part (spec §5 decomposition);
 * - max_prob: 1 − max p̄; energy: −logsumexp of the mean logits (Liu et al. 2020);
 * - mahalanobis: min_c (f−μ_c)ᵀ Σ⁻¹ (f−μ_c) with one shared covariance (Lee et al. 2018) on the
 *   penultimate features (or the backbone embedding);
 * - knn: distance to the k-th nearest L2-normalised training feature (Sun et al. 2022).
 * Statistics are fitted on the training split at the end of training and stored with the model;
 * the threshold is fitted on the validation split at a target in-distribution acceptance rate.
 */
import type { MemberOutputs } from './inference.js';
import { decompose } from './metrics.js';
import type { ScoreName } from '../common/index.js';

export { SCORE_NAMES, type ScoreName } from '../common/index.js';

/** Fitted feature statistics: plain arrays, saved as tensors in the weights file. */
export interface FeatureStats {
  D: number;
  classes: number;
  /** [classes, D] class means. */
  means: Float32Array;
  /** [D, D] lower-triangular Cholesky factor L of the shared covariance Σ = L Lᵀ. */
  chol: Float32Array;
  /** [n, D] L2-normalised training features for kNN. */
  bank: Float32Array;
  k: number;
}

/** Per-image scores from one batch of member outputs. */
export function batchScores(out: MemberOutputs, stats?: FeatureStats): Record<ScoreName, number>[] {
  const rows: Record<ScoreName, number>[] = [];
  for (let b = 0; b < out.B; b++) {
    const d = decompose(out.probs, out.M, out.C, b * out.M * out.C);
    let maxP = 0;
    for (const v of d.mean) maxP = Math.max(maxP, v);
    const f = out.features.subarray(b * out.D, (b + 1) * out.D);
    rows.push({
      entropy: d.predictiveEntropy,
      mutual_information: d.mutualInformation,
      max_prob: 1 - maxP,
      energy: -logSumExp(out.meanLogits, b * out.C, out.C),
      mahalanobis: stats ? mahalanobis(f, stats) : NaN,
      knn: stats ? knnDistance(f, stats) : NaN,
    });
  }
  return rows;
}

function logSumExp(a: ArrayLike<number>, offset: number, n: number): number {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, a[offset + i]!);
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(a[offset + i]! - max);
  return max + Math.log(s);
}

/** Cholesky factor of a symmetric positive-definite matrix (row-major, n×n). */
export function cholesky(a: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j]!;
      for (let k = 0; k < j; k++) s -= l[i * n + k]! * l[j * n + k]!;
      if (i === j) {
        if (s <= 0) throw new Error('covariance is not positive definite');
        l[i * n + i] = Math.sqrt(s);
      } else {
        l[i * n + j] = s / l[j * n + j]!;
      }
    }
  }
  return l;
}

/** ‖L⁻¹v‖² by forward substitution: the Mahalanobis form vᵀΣ⁻¹v when Σ = L Lᵀ. */
function solveNormSquared(l: Float32Array, v: Float64Array, n: number): number {
  const z = new Float64Array(n);
  let norm = 0;
  for (let i = 0; i < n; i++) {
    let s = v[i]!;
    for (let k = 0; k < i; k++) s -= l[i * n + k]! * z[k]!;
    z[i] = s / l[i * n + i]!;
    norm += z[i]! * z[i]!;
  }
  return norm;
}

export function mahalanobis(f: ArrayLike<number>, s: FeatureStats): number {
  let best = Infinity;
  const v = new Float64Array(s.D);
  for (let c = 0; c < s.classes; c++) {
    for (let i = 0; i < s.D; i++) v[i] = f[i]! - s.means[c * s.D + i]!;
    best = Math.min(best, solveNormSquared(s.chol, v, s.D));
  }
  return best;
}

function normalised(f: ArrayLike<number>, D: number): Float64Array {
  let n = 0;
  for (let i = 0; i < D; i++) n += f[i]! * f[i]!;
  const inv = 1 / Math.max(Math.sqrt(n), 1e-12);
  const out = new Float64Array(D);
  for (let i = 0; i < D; i++) out[i] = f[i]! * inv;
  return out;
}

export function knnDistance(f: ArrayLike<number>, s: FeatureStats): number {
  const q = normalised(f, s.D);
  const n = s.bank.length / s.D;
  if (!n) return NaN;
  const k = Math.min(s.k, n);
  // Keep the k smallest squared distances.
  const best = new Float64Array(k).fill(Infinity);
  for (let j = 0; j < n; j++) {
    let d = 0;
    for (let i = 0; i < s.D; i++) {
      const t = q[i]! - s.bank[j * s.D + i]!;
      d += t * t;
    }
    if (d < best[k - 1]!) {
      let p = k - 1;
      while (p > 0 && best[p - 1]! > d) {
        best[p] = best[p - 1]!;
        p--;
      }
      best[p] = d;
    }
  }
  return Math.sqrt(best[k - 1]!);
}

/**
 * Fit class means, a shared covariance (with a small ridge so it is invertible even with few
 * images) and a kNN bank of at most `bankSize` normalised features.
 */
export function fitFeatureStats(
  features: Float32Array,
  labels: ArrayLike<number>,
  D: number,
  classes: number,
  opts: { bankSize?: number; k?: number; pick?: (n: number) => number } = {},
): FeatureStats {
  const n = labels.length;
  const means = new Float64Array(classes * D);
  const counts = new Float64Array(classes);
  for (let i = 0; i < n; i++) {
    const c = labels[i]!;
    counts[c]!++;
    for (let d = 0; d < D; d++) means[c * D + d]! += features[i * D + d]!;
  }
  for (let c = 0; c < classes; c++)
    for (let d = 0; d < D; d++) if (counts[c]) means[c * D + d]! /= counts[c]!;
  const cov = new Float64Array(D * D);
  const v = new Float64Array(D);
  for (let i = 0; i < n; i++) {
    const c = labels[i]!;
    for (let d = 0; d < D; d++) v[d] = features[i * D + d]! - means[c * D + d]!;
    for (let a = 0; a < D; a++) {
      const va = v[a]!;
      if (va === 0) continue;
      for (let b = 0; b <= a; b++) cov[a * D + b]! += va * v[b]!;
    }
  }
  let trace = 0;
  for (let a = 0; a < D; a++) {
    for (let b = 0; b <= a; b++) {
      cov[a * D + b]! /= Math.max(1, n);
      cov[b * D + a] = cov[a * D + b]!;
    }
    trace += cov[a * D + a]!;
  }
  // Ridge: 1e-3 of the mean variance (and a floor), keeps Σ positive definite.
  const ridge = Math.max(1e-6, (1e-3 * trace) / D);
  for (let a = 0; a < D; a++) cov[a * D + a]! += ridge;
  const chol = cholesky(cov, D);

  const bankSize = Math.min(n, opts.bankSize ?? 2000);
  const bank = new Float32Array(bankSize * D);
  const step = n / Math.max(1, bankSize);
  for (let j = 0; j < bankSize; j++) {
    const i = opts.pick ? opts.pick(n) : Math.floor(j * step);
    bank.set(normalised(features.subarray(i * D, (i + 1) * D), D), j * D);
  }
  return {
    D,
    classes,
    means: Float32Array.from(means),
    chol: Float32Array.from(chol),
    bank,
    k: opts.k ?? Math.max(1, Math.min(10, Math.floor(bankSize / 20))),
  };
}
