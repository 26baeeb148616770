/**
 * The rank-1 factor values prediction uses (issue 17 item 1). Training draws α̃, γ̃ per example
 * (spec §1); prediction instead fixes them once per model, so an image's answer is a function of
 * the image alone, whatever the batch, order or worker count. Evaluation uses the same values, so
 * the numbers in Evaluate are the numbers a deployment (ONNX export) gets.
 *
 * Effective members: M = S·K, row m = s·K + k (member k's s-th draw), the layout of spec §5's
 * logits [S, K, B, C] flattened per image. Member m uses, in every rank-1 layer,
 * y = ((x ⊙ α̃_m) W) ⊙ γ̃_m + bias_k.
 */
import * as tf from '@tensorflow/tfjs';
import type { FixedFactors } from '../layers/rank1.js';
import { membersOf } from '../defaults.js';
import { rngFor } from '../random.js';
import type { FactorMode, PredictionPlan } from '../types.js';

export type { FactorMode, PredictionPlan };
import type { Rank1Model } from './base.js';

/**
 * How the fixed values are chosen, by measurement (docs/benchmarks.md, "Deterministic prediction"):
 * S = 1 seeded draw per member and the posterior means tie on accuracy, NLL, ECE and the flag's
 * AUROC over two seeds, at the same cost; the means shrink the epistemic part (MI) about 15-fold,
 * so the card's aleatoric/epistemic split would show almost nothing (issue 16 item 3).
 */
export const DEFAULT_FACTOR_MODE: FactorMode = 'samples';

/** One rank-1 layer's values for the M effective members (row-major Float32 arrays). */
export interface LayerFactors {
  name: string;
  kind: 'dense' | 'conv';
  inputDim: number;
  units: number;
  /** [M, inputDim] */
  alpha: Float32Array;
  /** [M, units] */
  gamma: Float32Array;
  /** [M, units] (bias_k repeated for each draw), absent for layers without bias. */
  bias?: Float32Array;
}

export interface PredictionFactors {
  mode: FactorMode;
  /** K */
  members: number;
  /** S */
  samples: number;
  /** M = S·K */
  effectiveMembers: number;
  /** Every rank-1 layer in model order; empty for `deterministic` (no factors). */
  layers: LayerFactors[];
}

/** Salt of the draws' stream: apart from every stream training uses (engine/random.ts). */
const DRAW_SALT = 4_000_037;
/** Name prefix of the stored draws in the weights file. */
export const FACTOR_PREFIX = 'prediction/';

/**
 * True when the method has a distribution to draw from: rank-1's factors, MC dropout's masks
 * (fixed here like α̃ draws, with γ̃ = 1); otherwise S is 1.
 */
function hasPosterior(model: Rank1Model): boolean {
  return model.config.method === 'rank1' || model.config.method === 'mcdropout';
}

/**
 * The plan a model uses: its stored one, else (old folders) the default mode seeded by the
 * training seed. Asking for `samples` > 1 (`--samples`) gives that many seeded draws per member,
 * also for a `mean` model: still fixed, so still a function of the image alone.
 */
export function resolvePlan(
  model: Rank1Model,
  stored: PredictionPlan | undefined,
  fallback: { samples: number; seed: number },
  samples?: number,
): PredictionPlan {
  const base = stored ?? { mode: DEFAULT_FACTOR_MODE, samples: fallback.samples, seed: fallback.seed };
  if (!hasPosterior(model)) return { ...base, samples: 1 };
  if (samples !== undefined && samples > 1) return { mode: 'samples', samples, seed: base.seed };
  if (base.mode === 'mean') return { ...base, samples: 1 };
  return { ...base, samples: Math.max(1, samples ?? base.samples) };
}

/**
 * Draw the values for a plan from the model's current parameters. Deterministic in (weights,
 * plan); draw s of a layer does not depend on S (one generator call per factor, filled in order),
 * so a larger S extends a smaller one.
 */
export async function drawPredictionFactors(
  model: Rank1Model,
  plan: PredictionPlan,
): Promise<PredictionFactors> {
  const K = membersOf(model.config);
  const S = plan.mode === 'mean' || !hasPosterior(model) ? 1 : plan.samples;
  const rng = rngFor(plan.seed, DRAW_SALT);
  const layers: LayerFactors[] = [];
  for (const l of model.rank1Layers()) {
    if (!(l.alpha && l.gamma) && !l.dropsInput) continue;
    const n = plan.mode === 'mean' ? 0 : S;
    // MC dropout: S masks as α̃ (the mean mode keeps every input: no dropout), γ̃ = 1.
    const [a, g] =
      l.alpha && l.gamma
        ? [l.alpha.draw(n, rng), l.gamma.draw(n, rng)]
        : [n ? l.dropoutMasks(S, rng) : tf.ones([1, l.inputDim]), tf.ones([S, l.units])];
    const bias = l.bias ? tf.tidy(() => tf.tile(l.bias!, [S, 1])) : undefined;
    const [alpha, gamma, b] = await Promise.all([a.data(), g.data(), bias?.data()]);
    tf.dispose([a, g, ...(bias ? [bias] : [])]);
    layers.push({
      name: l.name,
      kind: 'kernelSize' in l ? 'conv' : 'dense',
      inputDim: l.inputDim,
      units: l.units,
      alpha: alpha as Float32Array,
      gamma: gamma as Float32Array,
      bias: b as Float32Array | undefined,
    });
  }
  return { mode: plan.mode, members: K, samples: S, effectiveMembers: S * K, layers };
}

/** The values as named weights, stored with the model so a later app reads exactly them. */
export function factorWeights(f: PredictionFactors): { name: string; shape: number[]; data: Float32Array }[] {
  return f.layers.flatMap((l) => [
    { name: `${FACTOR_PREFIX}${l.name}/alpha`, shape: [f.effectiveMembers, l.inputDim], data: l.alpha },
    { name: `${FACTOR_PREFIX}${l.name}/gamma`, shape: [f.effectiveMembers, l.units], data: l.gamma },
  ]);
}

/**
 * The stored values for a plan, or undefined when the folder has none for it (old folders, or
 * another S than was saved): the caller then draws them.
 */
export function factorsFromWeights(
  model: Rank1Model,
  plan: PredictionPlan,
  weights: readonly { name: string; shape: number[]; data: Float32Array }[],
): PredictionFactors | undefined {
  const K = membersOf(model.config);
  const S = plan.samples;
  const byName = new Map(weights.map((w) => [w.name, w]));
  const layers: LayerFactors[] = [];
  for (const l of model.rank1Layers()) {
    if (!(l.alpha && l.gamma) && !l.dropsInput) continue;
    const a = byName.get(`${FACTOR_PREFIX}${l.name}/alpha`);
    const g = byName.get(`${FACTOR_PREFIX}${l.name}/gamma`);
    if (!a || !g || a.shape[0] !== S * K || g.shape[0] !== S * K) return undefined;
    const bias = l.bias ? tf.tidy(() => tf.tile(l.bias!, [S, 1])) : undefined;
    layers.push({
      name: l.name,
      kind: 'kernelSize' in l ? 'conv' : 'dense',
      inputDim: l.inputDim,
      units: l.units,
      alpha: a.data,
      gamma: g.data,
      bias: bias ? (bias.dataSync() as Float32Array).slice() : undefined,
    });
    bias?.dispose();
  }
  return { mode: plan.mode, members: K, samples: S, effectiveMembers: S * K, layers };
}

/** Tensors for forward pass `s` (rows s·K … s·K + K − 1); the caller disposes them. */
export function fixedFactorsFor(f: Pick<PredictionFactors, 'members' | 'layers'>, s: number): FixedFactors {
  const K = f.members;
  const out: FixedFactors = new Map();
  for (const l of f.layers) {
    out.set(l.name, {
      alpha: tf.tensor2d(l.alpha.subarray(s * K * l.inputDim, (s + 1) * K * l.inputDim), [K, l.inputDim]),
      gamma: tf.tensor2d(l.gamma.subarray(s * K * l.units, (s + 1) * K * l.units), [K, l.units]),
    });
  }
  return out;
}

export function disposeFixed(f: FixedFactors): void {
  for (const v of f.values()) tf.dispose([v.alpha, v.gamma]);
}
