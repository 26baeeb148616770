/**
 * The data room's public types: what import produces and what training, evaluation and
 * prediction consume. Pixels are always uint8, HWC, already decoded, oriented, flattened
 * and resized by ONE function (`prepareImage`), so training and prediction see identical pixels.
 */

/** How an image becomes model input. Part of every cache key and stored with each model. */
export interface Preprocessing {
  /** Square side in pixels (28–224). */
  size: number;
  /** 1 = grey, 3 = RGB. */
  channels: 1 | 3;
  /** cover = scale then centre-crop; contain = letterbox on `background`. */
  fit: 'cover' | 'contain';
  /** Background for alpha flattening and letterboxing, sRGB. Documented default: white. */
  background: { r: number; g: number; b: number };
}

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
