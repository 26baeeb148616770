/**
 * Uncertainty and calibration metrics on plain arrays (spec §5). Probabilities of one image
 * come as M = S·K member/sample rows of C classes.
 */

/** H[p] = −Σ p log p, nats; 0·log 0 = 0. */
export function entropyOf(p: ArrayLike<number>, offset = 0, length = p.length): number {
  let h = 0;
  for (let i = 0; i < length; i++) {
    const v = p[offset + i]!;
    if (v > 0) h -= v * Math.log(v);
  }
  return h;
}

export interface Decomposition {
  /** p̄ = mean over the M rows (spec §5: average probabilities, not logits). */
  mean: Float64Array;
  /** Predictive entropy H[p̄] (total uncertainty). */
  predictiveEntropy: number;
  /** E_m[H[p_m]] (aleatoric). */
  expectedEntropy: number;
  /** H[p̄] − E[H[p_m]] (epistemic; the mutual information between label and member). */
  mutualInformation: number;
}

/**
 * Split the predictive entropy of one image: rows is M×C, row-major (M = samples × members).
 * MI ≥ 0 by Jensen; tiny negative values from rounding are clamped.
 */
export function decompose(rows: ArrayLike<number>, M: number, C: number, offset = 0): Decomposition {
  const mean = new Float64Array(C);
  let expected = 0;
  for (let m = 0; m < M; m++) {
    const o = offset + m * C;
    for (let c = 0; c < C; c++) mean[c]! += rows[o + c]! / M;
    expected += entropyOf(rows, o, C) / M;
  }
  const total = entropyOf(mean);
  return {
    mean,
    predictiveEntropy: total,
    expectedEntropy: expected,
    mutualInformation: Math.max(0, total - expected),
  };
}

export const predictiveEntropy = (mean: ArrayLike<number>): number => entropyOf(mean);

/**
 * Log-mixture NLL of one image (spec §5): −logsumexp_m(log p_m[y]) + log M, from the members'
 * log-probabilities of the true class.
 */
export function mixtureNll(logProbsOfTrue: ArrayLike<number>): number {
  const M = logProbsOfTrue.length;
  let max = -Infinity;
  for (let m = 0; m < M; m++) max = Math.max(max, logProbsOfTrue[m]!);
  if (max === -Infinity) return Infinity;
  let s = 0;
  for (let m = 0; m < M; m++) s += Math.exp(logProbsOfTrue[m]! - max);
  return -(max + Math.log(s)) + Math.log(M);
}

/** Multi-class Brier score of one image: Σ_c (p_c − [c = y])². */
export function brierScore(p: ArrayLike<number>, label: number): number {
  let s = 0;
  for (let c = 0; c < p.length; c++) {
    const d = p[c]! - (c === label ? 1 : 0);
    s += d * d;
  }
  return s;
}

export interface ReliabilityBin {
  lower: number;
  upper: number;
  count: number;
  accuracy: number;
  confidence: number;
}

/** Equal-width bins on [0,1] by top-1 confidence; index = floor(conf·bins), clipped (spec §5). */
export function reliabilityBins(
  confidence: ArrayLike<number>,
  correct: ArrayLike<boolean | number>,
  bins = 15,
): ReliabilityBin[] {
  const count = new Float64Array(bins);
  const acc = new Float64Array(bins);
  const conf = new Float64Array(bins);
  for (let i = 0; i < confidence.length; i++) {
    const b = Math.min(bins - 1, Math.max(0, Math.floor(confidence[i]! * bins)));
    count[b]!++;
    acc[b]! += correct[i] ? 1 : 0;
    conf[b]! += confidence[i]!;
  }
  return Array.from({ length: bins }, (_, b) => ({
    lower: b / bins,
    upper: (b + 1) / bins,
    count: count[b]!,
    accuracy: count[b] ? acc[b]! / count[b]! : 0,
    confidence: count[b] ? conf[b]! / count[b]! : 0,
  }));
}

/** ECE = Σ_b (n_b/N)·|acc_b − conf_b|, 15 bins, empty bins skipped (spec §5). */
export function expectedCalibrationError(
  confidence: ArrayLike<number>,
  correct: ArrayLike<boolean | number>,
  bins = 15,
): number {
  const n = confidence.length;
  if (n === 0) return 0;
  return reliabilityBins(confidence, correct, bins).reduce(
    (e, b) => e + (b.count ? (b.count / n) * Math.abs(b.accuracy - b.confidence) : 0),
    0,
  );
}

/**
 * AUROC of telling OOD (positive, higher score) from in-distribution, by the Mann–Whitney
 * statistic with average ranks, so ties count one half.
 */
export function auroc(scoresIn: ArrayLike<number>, scoresOut: ArrayLike<number>): number {
  const nIn = scoresIn.length;
  const nOut = scoresOut.length;
  if (!nIn || !nOut) return NaN;
  const all: { v: number; out: boolean }[] = [];
  for (let i = 0; i < nIn; i++) all.push({ v: scoresIn[i]!, out: false });
  for (let i = 0; i < nOut; i++) all.push({ v: scoresOut[i]!, out: true });
  all.sort((a, b) => a.v - b.v);
  let rankSumOut = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j < all.length && all[j]!.v === all[i]!.v) j++;
    const avgRank = (i + 1 + j) / 2; // ranks i+1..j
    for (let k = i; k < j; k++) if (all[k]!.out) rankSumOut += avgRank;
    i = j;
  }
  return (rankSumOut - (nOut * (nOut + 1)) / 2) / (nIn * nOut);
}

/**
 * Threshold that keeps `tpr` of the in-distribution scores at or below it (the flag is
 * score > threshold): the ceil(tpr·n)-th smallest score.
 */
export function thresholdAtTpr(scoresIn: ArrayLike<number>, tpr = 0.95): number {
  const sorted = Float64Array.from(scoresIn).sort();
  if (!sorted.length) return Infinity;
  const k = Math.min(sorted.length - 1, Math.max(0, Math.ceil(tpr * sorted.length) - 1));
  return sorted[k]!;
}

/**
 * FPR at 95% TPR (ODIN convention): with the threshold keeping 95% of in-distribution images,
 * the fraction of OOD images that pass as in-distribution (score ≤ threshold).
 */
export function fprAtTpr(scoresIn: ArrayLike<number>, scoresOut: ArrayLike<number>, tpr = 0.95): number {
  if (!scoresOut.length) return NaN;
  const t = thresholdAtTpr(scoresIn, tpr);
  let passed = 0;
  for (let i = 0; i < scoresOut.length; i++) if (scoresOut[i]! <= t) passed++;
  return passed / scoresOut.length;
}

export function confusionMatrix(
  labels: ArrayLike<number>,
  predicted: ArrayLike<number>,
  classes: number,
): number[][] {
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < labels.length; i++) m[labels[i]!]![predicted[i]!]!++;
  return m;
}

export function argmax(p: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i]! > p[best]!) best = i;
  return best;
}
