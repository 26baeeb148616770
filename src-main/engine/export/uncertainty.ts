/**
 * The prediction's numbers as ONNX nodes, from the members' logits and the OOD features: the
 * calibrated mixture, the entropy split (spec §5) and the OOD scores of engine/ood.ts, each
 * written as engine/metrics.ts and engine/ood.ts compute them so the parity tests can hold them
 * to 1e-4.
 */
import type { FeatureStats, ScoreName } from '../ood.js';
import type { OnnxGraph } from '../onnx/graph.js';

export interface UncertaintyOutputs {
  /** [N, C] p̄ = mean_m softmax(logits_m / T) */
  probs: string;
  /** [N] H[p̄] */
  entropy: string;
  /** [N] E_m[H[p_m]] */
  aleatoric: string;
  /** [N] max(0, H[p̄] − E_m[H[p_m]]) (mutual information) */
  epistemic: string;
  /** Every score the graph can compute, by name ([N] each). */
  scores: Partial<Record<ScoreName, string>>;
}

const scalar = (g: OnnxGraph, name: string, v: number) => g.initializer(name, Float32Array.of(v), []);

/** −Σ_c p log p over the last axis, with 0·log 0 = 0 (entropyOf). */
function entropyOver(g: OnnxGraph, p: string, logp: string): string {
  return g.op('Neg', [g.op('ReduceSum', [g.op('Mul', [p, logp]), g.int64s('last', [-1])], { keepdims: 0 })]);
}

/** log Σ exp over the last axis, shifted by the maximum (ood.ts logSumExp). */
function logSumExp(g: OnnxGraph, x: string): string {
  const max = g.op('ReduceMax', [x], { axes: [-1], keepdims: 1 });
  const sum = g.op('ReduceSum', [g.op('Exp', [g.op('Sub', [x, max])]), g.int64s('last', [-1])], {
    keepdims: 0,
  });
  return g.op('Add', [g.op('Log', [sum]), g.op('Squeeze', [max, g.int64s('last', [-1])])]);
}

/** L⁻¹ of a lower-triangular L (row-major, n×n), in float64. */
export function invertLower(l: ArrayLike<number>, n: number): Float64Array {
  const inv = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    // Column j of L⁻¹ solves L x = e_j by forward substitution.
    for (let i = j; i < n; i++) {
      let s = i === j ? 1 : 0;
      for (let k = j; k < i; k++) s -= l[i * n + k]! * inv[k * n + j]!;
      inv[i * n + j] = s / l[i * n + i]!;
    }
  }
  return inv;
}

/**
 * Mahalanobis: min_c ‖L⁻¹(f − μ_c)‖² (ood.ts mahalanobis). The differences are taken first, so
 * float32 loses nothing to cancellation; L⁻¹ is computed once here in float64.
 */
function mahalanobis(g: OnnxGraph, f: string, s: FeatureStats): string {
  const inv = invertLower(s.chol, s.D);
  const invT = new Float32Array(s.D * s.D);
  for (let i = 0; i < s.D; i++) for (let j = 0; j < s.D; j++) invT[j * s.D + i] = inv[i * s.D + j]!;
  const means = g.initializer('ood/class_means', s.means, [s.classes, s.D]);
  const diff = g.op('Sub', [g.op('Unsqueeze', [f, g.int64s('axis1', [1])]), means]); // [N, C, D]
  const z = g.op('MatMul', [diff, g.initializer('ood/chol_inverse_t', invT, [s.D, s.D])]);
  const d2 = g.op('ReduceSum', [g.op('Mul', [z, z]), g.int64s('last', [-1])], { keepdims: 0 });
  return g.op('ReduceMin', [d2], { axes: [1], keepdims: 0 });
}

/** kNN: distance to the k-th nearest normalised training feature (ood.ts knnDistance). */
function knn(g: OnnxGraph, f: string, s: FeatureStats): string {
  const n = s.bank.length / s.D;
  const k = Math.min(s.k, n);
  const norm = g.op('Sqrt', [
    g.op('ReduceSum', [g.op('Mul', [f, f]), g.int64s('last', [-1])], { keepdims: 1 }),
  ]);
  const q = g.op('Div', [f, g.op('Max', [norm, scalar(g, 'knn/eps', 1e-12)])]);
  const bankT = new Float32Array(s.D * n);
  const bankNorm = new Float32Array(n);
  for (let j = 0; j < n; j++)
    for (let i = 0; i < s.D; i++) {
      const v = s.bank[j * s.D + i]!;
      bankT[i * n + j] = v;
      bankNorm[j] += v * v;
    }
  // ‖q − b‖² = ‖q‖² + ‖b‖² − 2 q·b, clamped at 0 against rounding.
  const qq = g.op('ReduceSum', [g.op('Mul', [q, q]), g.int64s('last', [-1])], { keepdims: 1 });
  const qb = g.op('MatMul', [q, g.initializer('knn/bank_t', bankT, [s.D, n])]);
  const d2 = g.op('Add', [
    g.op('Sub', [qq, g.op('Mul', [qb, scalar(g, 'two', 2)])]),
    g.initializer('knn/bank_norm', bankNorm, [n]),
  ]);
  const clamped = g.op('Max', [d2, scalar(g, 'zero', 0)]);
  const [smallest] = g.node(
    'TopK',
    [clamped, g.int64s('knn/k', [k])],
    { axis: -1, largest: 0, sorted: 1 },
    { outputs: 2 },
  );
  const kth = g.op('Gather', [smallest!, g.int64s('knn/index', [k - 1])], { axis: 1 });
  return g.op('Sqrt', [g.op('Squeeze', [kth, g.int64s('last', [-1])])]);
}

/**
 * From member logits [N·M, C] and OOD features [N, D]: the mixture at temperature T (applied per
 * member, engine/inference.ts withTemperature), the entropy split and every OOD score.
 */
export function writeUncertainty(
  g: OnnxGraph,
  opts: { logits: string; features: string; M: number; C: number; temperature: number; stats?: FeatureStats },
): UncertaintyOutputs {
  const logits = g.op('Reshape', [opts.logits, g.int64s('member_logits', [-1, opts.M, opts.C])]);
  const scaled =
    opts.temperature === 1 ? logits : g.op('Div', [logits, scalar(g, 'temperature', opts.temperature)]);
  const logp = g.op('LogSoftmax', [scaled], { axis: -1 });
  const p = g.op('Exp', [logp]);
  const probs = g.op('ReduceMean', [p], { axes: [1], keepdims: 0 });
  const aleatoric = g.op('ReduceMean', [entropyOver(g, p, logp)], { axes: [1], keepdims: 0 });
  // log p̄ with p̄ = 0 kept finite, so 0·log 0 = 0 as entropyOf skips zeros.
  const logMean = g.op('Log', [g.op('Max', [probs, scalar(g, 'tiny', 1e-30)])]);
  const entropy = entropyOver(g, probs, logMean);
  const epistemic = g.op('Max', [g.op('Sub', [entropy, aleatoric]), scalar(g, 'zero', 0)]);
  const maxProb = g.op('Sub', [scalar(g, 'one', 1), g.op('ReduceMax', [probs], { axes: [-1], keepdims: 0 })]);
  // Energy: −logsumexp of the untempered mean logits (Liu et al. 2020).
  const energy = g.op('Neg', [logSumExp(g, g.op('ReduceMean', [logits], { axes: [1], keepdims: 0 }))]);
  const scores: UncertaintyOutputs['scores'] = {
    entropy,
    mutual_information: epistemic,
    max_prob: maxProb,
    energy,
  };
  if (opts.stats) {
    // The statistics cover the first D features (older models fitted them on the penultimate
    // layer only), as ood.ts reads f[0 … D).
    const f = g.op('Slice', [
      opts.features,
      g.int64s('start', [0]),
      g.int64s('end', [opts.stats.D]),
      g.int64s('axis1', [1]),
    ]);
    scores.mahalanobis = mahalanobis(g, f, opts.stats);
    scores.knn = knn(g, f, opts.stats);
  }
  return { probs, entropy, aleatoric, epistemic, scores };
}
