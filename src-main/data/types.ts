/**
 * The data room's public types: what import produces and what training, evaluation and
 * prediction consume. Pixels are always uint8, HWC, already decoded, oriented, flattened
 * and resized by ONE function (`prepareImage`), so training and prediction see identical pixels.
 */

export type { Preprocessing } from '../common/data.js';

export interface PreparedImage {
  pixels: Uint8Array; // length size*size*channels, HWC
  height: number;
  width: number;
  channels: 1 | 3;
}

/** A set of decoded examples that can be read in batches without holding all in memory. */
export interface ExampleSet {
  readonly count: number;
  readonly height: number;
  readonly width: number;
  readonly channels: 1 | 3;
  /** Class index per example. */
  readonly labels: Int32Array;
  /** Source file per example (for review queues and confusion-matrix drill-down). */
  readonly files: readonly string[];
  /** uint8 HWC pixels of the given examples, concatenated in the order asked. */
  read(indices: ArrayLike<number>): Promise<Uint8Array>;
}
