/**
 * Post-hoc temperature scaling of the mixture (Guo et al. 2017; issue 16 item 1). One temperature
 * T > 0 divides every effective member's logits before its softmax; the prediction is the mean of
 * the member probabilities, so H[p̄] = E_m H[p_m] + MI still holds on calibrated members (spec §5).
 * T is fitted on the validation split by minimising the mixture NLL, a 1-D problem: golden-section
 * search over log T, with a weak Gaussian prior on log T (a MAP fit) so that a validation split of a
 * few images cannot push T to the edge of its range.
 */
import { expectedCalibrationError, reliabilityBins } from './metrics.js';
import type { DatasetMetrics } from './types.js';

/** Logits of n images: [n, M, C] row-major, M effective members, C classes. */
export interface MemberLogits {
  logits: Float32Array;
  n: number;
  M: number;
  C: number;
}

/** Search interval of log T: T in [1/20, 20] covers every sane network. */
const LOG_T_RANGE: [number, number] = [Math.log(0.05), Math.log(20)];
const GOLDEN = (Math.sqrt(5) - 1) / 2;
/**
 * Prior log T ~ Normal(0, LOG_T_PRIOR_SD²). A small folder leaves a handful of validation images; if
 * they are all right, their NLL alone keeps falling as T → 0, and the fitted T = 1/20 made every
 * later prediction 100% sure. The prior's weight is that of one image's NLL against n images', so
 * it decides only when n is small: at n in the hundreds it moves log T by about a per cent.
 */
export const LOG_T_PRIOR_SD = 1;

/**
 * Mixture probabilities of image i at temperature T: p̄ = (1/M) Σ_m softmax(l_m / T), written
 * into `out` (length C); returns log p̄_y when `label` ≥ 0 (log-sum-exp over members, stable).
 */
function mixtureAt(x: MemberLogits, i: number, T: number, out: Float64Array, label: number): number {
  const { logits, M, C } = x;
  out.fill(0);
  let maxTrue = -Infinity;
  const trueLog = new Float64Array(M);
  for (let m = 0; m < M; m++) {
    const o = (i * M + m) * C;
    let max = -Infinity;
    for (let c = 0; c < C; c++) max = Math.max(max, logits[o + c]! / T);
    let z = 0;
    for (let c = 0; c < C; c++) z += Math.exp(logits[o + c]! / T - max);
    const lz = Math.log(z) + max;
    for (let c = 0; c < C; c++) out[c]! += Math.exp(logits[o + c]! / T - lz) / M;
    if (label >= 0) {
      trueLog[m] = logits[o + label]! / T - lz;
      maxTrue = Math.max(maxTrue, trueLog[m]!);
    }
  }
  if (label < 0) return NaN;
  let s = 0;
  for (let m = 0; m < M; m++) s += Math.exp(trueLog[m]! - maxTrue);
  return maxTrue + Math.log(s / M);
}

/** Mean over images of −log p̄_y at temperature T (spec §5's mixture NLL). */
export function mixtureNllAt(x: MemberLogits, labels: ArrayLike<number>, T: number): number {
  const p = new Float64Array(x.C);
  let sum = 0;
  for (let i = 0; i < x.n; i++) sum -= mixtureAt(x, i, T, p, labels[i]!);
  return sum / x.n;
}

/**
 * The temperature minimising the validation mixture NLL plus the prior on log T (golden-section
 * search over log T; the objective is smooth and, in practice, unimodal in log T). 1 when there is
 * nothing to fit on.
 */
export function fitTemperature(x: MemberLogits, labels: ArrayLike<number>, tol = 1e-4): number {
  if (x.n === 0) return 1;
  const prior = (u: number) => (u * u) / (2 * LOG_T_PRIOR_SD * LOG_T_PRIOR_SD * x.n);
  const f = (u: number) => mixtureNllAt(x, labels, Math.exp(u)) + prior(u);
  let [a, b] = LOG_T_RANGE;
  let c = b - GOLDEN * (b - a);
  let d = a + GOLDEN * (b - a);
  let fc = f(c);
  let fd = f(d);
  while (b - a > tol) {
    if (fc < fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - GOLDEN * (b - a);
      fc = f(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + GOLDEN * (b - a);
      fd = f(d);
    }
  }
  const best = Math.exp((a + b) / 2);
  // never worse than no scaling (guards a flat or non-unimodal objective)
  return f(Math.log(best)) <= f(0) ? best : 1;
}

/** NLL, ECE and reliability of the mixture at temperature T (the "before" numbers use T = 1). */
export function calibrationMetrics(
  x: MemberLogits,
  labels: ArrayLike<number>,
  T: number,
): Pick<DatasetMetrics, 'nll' | 'ece' | 'reliability'> {
  const p = new Float64Array(x.C);
  const confidence: number[] = [];
  const correct: boolean[] = [];
  let nll = 0;
  for (let i = 0; i < x.n; i++) {
    nll -= mixtureAt(x, i, T, p, labels[i]!);
    let top = 0;
    for (let c = 1; c < x.C; c++) if (p[c]! > p[top]!) top = c;
    confidence.push(p[top]!);
    correct.push(top === labels[i]);
  }
  return {
    nll: x.n ? nll / x.n : NaN,
    ece: expectedCalibrationError(confidence, correct),
    reliability: reliabilityBins(confidence, correct),
  };
}
