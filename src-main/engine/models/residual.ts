/**
 * The convolutions of a residual block, shared by resnet20 (post-activation) and wrn-28-10
 * (pre-activation): two 3×3 rank-1 convs, the first with the block's stride, and a 1×1 rank-1
 * projection shortcut when the shape changes (spec §1: every conv is rank-1, shortcuts included).
 */
import { Conv2DRank1, type FactorOptions } from '../layers/rank1.js';
import type { Rng } from '../random.js';
import type { LayerSet } from './base.js';

export interface ResidualConvs {
  c1: Conv2DRank1;
  c2: Conv2DRank1;
  shortcut?: Conv2DRank1;
}

/** What a residual block is built from: where its layers go, its name, widths and stride. */
export interface BlockArgs {
  layers: LayerSet;
  name: string;
  cin: number;
  cout: number;
  stride: number;
  f: FactorOptions;
  rng: Rng;
}

export function residualConvs({ layers, name, cin, cout, stride, f, rng }: BlockArgs): ResidualConvs {
  const conv = (suffix: string, inChannels: number, kernelSize: number, strides = 1) =>
    layers.conv(
      new Conv2DRank1({ name: `${name}/${suffix}`, inChannels, filters: cout, kernelSize, strides }, f, rng),
    );
  const c1 = conv('conv1', cin, 3, stride);
  const c2 = conv('conv2', cout, 3);
  return stride !== 1 || cin !== cout ? { c1, c2, shortcut: conv('shortcut', cin, 1, stride) } : { c1, c2 };
}
