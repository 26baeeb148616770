/**
 * Between live variables and the store's named float32 arrays.
 */
import * as tf from '@tensorflow/tfjs';
import type { NamedWeight } from './model-format.js';
import { namedVariables, type Rank1Model } from './models/index.js';
import type { FeatureStats } from './ood.js';

const OOD_PREFIX = 'ood/';

export async function collectWeights(model: Rank1Model, stats?: FeatureStats): Promise<NamedWeight[]> {
  const out: NamedWeight[] = [];
  for (const [name, v] of namedVariables(model))
    out.push({ name, shape: [...v.shape], data: (await v.data()) as Float32Array });
  if (stats) {
    out.push({ name: `${OOD_PREFIX}means`, shape: [stats.classes, stats.D], data: stats.means });
    out.push({ name: `${OOD_PREFIX}chol`, shape: [stats.D, stats.D], data: stats.chol });
    out.push({ name: `${OOD_PREFIX}bank`, shape: [stats.bank.length / stats.D, stats.D], data: stats.bank });
    out.push({ name: `${OOD_PREFIX}k`, shape: [1], data: Float32Array.of(stats.k) });
  }
  return out;
}

/** Assign saved weights to a freshly built model; every variable must be present with its shape. */
export function assignWeights(model: Rank1Model, weights: NamedWeight[], where: string): void {
  const byName = new Map(weights.map((w) => [w.name, w]));
  for (const [name, v] of namedVariables(model)) {
    const w = byName.get(name);
    if (!w) throw new Error(`${where}: weights lack "${name}" (model and weights do not match)`);
    if (w.shape.join('x') !== v.shape.join('x')) {
      throw new Error(`${where}: "${name}" has shape [${w.shape}], the model expects [${v.shape}]`);
    }
    v.assign(tf.tensor(w.data, v.shape));
  }
}

export function statsFromWeights(weights: NamedWeight[]): FeatureStats | undefined {
  const get = (n: string) => weights.find((w) => w.name === OOD_PREFIX + n);
  const means = get('means');
  const chol = get('chol');
  const bank = get('bank');
  if (!means || !chol || !bank) return undefined;
  return {
    classes: means.shape[0]!,
    D: means.shape[1]!,
    means: means.data,
    chol: chol.data,
    bank: bank.data,
    k: get('k')?.data[0] ?? 10,
  };
}
