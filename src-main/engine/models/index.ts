/**
 * The networks, written like the papers, one file per architecture: every conv and the dense head
 * is rank-1 (spec §1, "Which layers are rank-1"), BatchNorm is one ordinary layer shared by all
 * members. `buildModel` builds one by the config's `arch`.
 */
import type * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../types.js';
import { logicalName } from '../layers/rank1.js';
import type { Rng } from '../random.js';
import type { Rank1Model } from './base.js';
import { SmallCnn } from './cnn.js';
import { Mlp } from './mlp.js';
import { ResNet20 } from './resnet20.js';
import { WideResNet } from './wrn.js';

export { factorOptions, type ForwardResult, type Rank1Layer, type Rank1Model } from './base.js';

export function buildModel(config: ModelConfig, rng: Rng): Rank1Model {
  switch (config.arch) {
    case 'mlp':
    case 'head':
      return new Mlp(config, rng);
    case 'cnn':
      return new SmallCnn(config, rng);
    case 'resnet20':
      return new ResNet20(config, rng);
    case 'wrn-28-10':
      return new WideResNet(config, rng);
    default:
      throw new Error(`unknown architecture "${String((config as ModelConfig).arch)}"`);
  }
}

/** All tensors that make up the model, by unique name (for saving and loading). */
export function namedVariables(model: Rank1Model): Map<string, tf.Variable> {
  const out = new Map<string, tf.Variable>();
  for (const v of [...model.params().map((p) => p.variable), ...model.state()]) {
    const name = logicalName(v);
    if (out.has(name)) throw new Error(`duplicate variable name ${name}`);
    out.set(name, v);
  }
  return out;
}
