/**
 * Between live variables and the store's named float32 arrays.
 */
import * as tf from '@tensorflow/tfjs';
import { ModelFormatError, type NamedWeight } from './model-format.js';
import { namedVariables, type Rank1Model } from './models/index.js';
import { FACTOR_PREFIX } from './models/prediction-factors.js';
import type { FeatureStats } from './ood.js';
import type { ModelConfig } from './types.js';

const OOD_PREFIX = 'ood/';

/**
 * Bytes of one checkpoint (weights.bin + optimizer.bin), before training writes any: float32
 * weights and as many float32 slots per weight as the optimizer keeps (Nesterov: momentum; Adam:
 * two moments and its step count). The OOD statistics and prediction factors added at the end are
 * not counted. (Measured equal to the files a 2-epoch mlp run writes, with either optimizer.)
 */
export function checkpointBytes(model: Rank1Model, optimizer: 'sgd' | 'adam'): number {
  let weights = 0;
  for (const v of namedVariables(model).values()) weights += v.size;
  return optimizer === 'adam' ? 4 * (3 * weights + 1) : 4 * 2 * weights;
}

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

/**
 * Refuse, before the network is built, a dense layer wider than the weights read with it could
 * hold: building allocates every variable first, so two edited numbers in model.json (a 1024-px
 * input and 65,536 hidden units) would otherwise ask for 2^36 floats. The conv nets' widths are
 * fixed by their architecture; only mlp and head take a width from the file. An absent `hidden`
 * counts as 1 (a lower bound: the model's own default is small).
 */
export function assertWeightsCanHold(config: ModelConfig, weights: NamedWeight[], where: string): void {
  if (config.arch !== 'mlp' && config.arch !== 'head') return;
  const [h, w, c] = config.inputShape;
  // A fine-tuned head reads the tail's channels, bounded with the tail by the schema.
  const inputDim = config.arch === 'head' ? (config.fineTune ? 1 : (config.embeddingSize ?? 1)) : h * w * c;
  const units = config.hidden ?? 1;
  const largest = Math.max(inputDim * units, units * config.numClasses);
  const held = weights.reduce((sum, x) => sum + x.data.length, 0);
  if (largest > held)
    throw new ModelFormatError(
      where,
      `model.json: config.hidden ${units} makes a layer of ${largest} weights; weights.bin holds ${held} in all (model and weights do not match)`,
    );
}

/**
 * Assign saved weights to a freshly built model; every variable must be present with its shape,
 * and every other tensor must be one the app stores beside them (OOD statistics, prediction
 * factors): anything else means the weights belong to another model.
 */
export function assignWeights(model: Rank1Model, weights: NamedWeight[], where: string): void {
  const byName = new Map(weights.map((w) => [w.name, w]));
  const variables = namedVariables(model);
  const stranger = weights.find(
    (w) => !variables.has(w.name) && !w.name.startsWith(OOD_PREFIX) && !w.name.startsWith(FACTOR_PREFIX),
  );
  if (stranger)
    throw new ModelFormatError(
      where,
      `weights.bin holds "${stranger.name}", which this model does not have (model and weights do not match)`,
    );
  for (const [name, v] of variables) {
    const w = byName.get(name);
    if (!w) throw new ModelFormatError(where, `weights.bin lacks "${name}" (model and weights do not match)`);
    if (w.shape.join('x') !== v.shape.join('x')) {
      throw new ModelFormatError(
        where,
        `weights.bin: "${name}" has shape [${w.shape.join(', ')}], the model expects [${v.shape.join(', ')}]`,
      );
    }
    v.assign(tf.tensor(w.data, v.shape));
  }
}

/**
 * The OOD feature statistics saved beside the weights, if any. Their shapes must agree (means
 * [classes, D], chol [D, D], bank [n, D]): the scores index them without bounds checks.
 */
export function statsFromWeights(weights: NamedWeight[], where = 'model'): FeatureStats | undefined {
  const get = (n: string) => weights.find((w) => w.name === OOD_PREFIX + n);
  const means = get('means');
  const chol = get('chol');
  const bank = get('bank');
  if (!means || !chol || !bank) return undefined;
  const D = means.shape[1];
  const agree =
    means.shape.length === 2 &&
    chol.shape.length === 2 &&
    bank.shape.length === 2 &&
    chol.shape[0] === D &&
    chol.shape[1] === D &&
    bank.shape[1] === D &&
    D! > 0;
  if (!agree)
    throw new ModelFormatError(
      where,
      `weights.bin: the OOD statistics have shapes that do not agree (means [${means.shape.join(', ')}], chol [${chol.shape.join(', ')}], bank [${bank.shape.join(', ')}])`,
    );
  return {
    classes: means.shape[0]!,
    D: means.shape[1]!,
    means: means.data,
    chol: chol.data,
    bank: bank.data,
    k: get('k')?.data[0] ?? 10,
  };
}
