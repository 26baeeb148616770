/**
 * The data room's wire types (plain data): how an image becomes model input, and what an import
 * reports. Read by the data room, the engine, the store and the contract.
 */

export type SplitName = 'train' | 'val' | 'test';

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

/** Why an image cannot be used (the data room's ImageError). */
export type ImageErrorReason =
  | 'corrupt'
  | 'truncated'
  | 'unsupported'
  | 'unreadable'
  | 'too-large'
  | 'empty'
  | 'not-image'
  /** The path resolves outside the folder it was asked under (see `isInside`). */
  | 'outside-link';

/**
 * Why a file the scan saw is not an example:
 * - a decode reason (`ImageErrorReason`: corrupt, truncated, unsupported, unreadable, too-large,
 *   empty, not-image);
 * - `outside-class-folder`: directly in the root (or in train/, val/, test/), so it has no class;
 * - `outside-link`: a symlink that resolves outside the dataset folder (never followed);
 * - `symlink-loop`: a folder link back to one of its own parents;
 * - `duplicate`: the same bytes as `duplicateOf`, in the same class (the first copy is imported).
 */
export type SkipReason =
  ImageErrorReason | 'outside-class-folder' | 'outside-link' | 'symlink-loop' | 'duplicate';

export interface SkippedFile {
  file: string;
  reason: SkipReason;
  /** One line saying what was wrong, for people. */
  message?: string;
  /** For `duplicate`: the imported file with the same bytes. */
  duplicateOf?: string;
}

/**
 * Files with identical bytes. `crossClass`: the copies sit in different classes (a label
 * conflict: all are imported and a warning says so); otherwise the copies after the first are
 * also listed in `skipped` as `duplicate`.
 */
export interface DuplicateGroup {
  hash: string;
  files: string[];
  crossClass: boolean;
}

export interface ImportReport {
  /** Images per class. */
  classes: Record<string, number>;
  splits: Record<SplitName, Record<string, number>>;
  /** Every file seen and not imported, with the reason. */
  skipped: SkippedFile[];
  duplicates: DuplicateGroup[];
  warnings: string[];
  /** Files and links the scan saw (hidden and system files excepted): `images + skipped.length`. */
  seen: number;
  /** Images imported (examples over all splits). */
  images: number;
  seconds: number;
  imagesPerSecond: number;
  givenSplits: boolean;
  /** Files decoded by this import (the rest came from the cache). */
  decoded: number;
  /** Files served from the cache without decoding. */
  cached: number;
}

export interface ImportProgress {
  /** `wait`: another import of this folder holds its lock (see `message`). */
  phase: 'scan' | 'wait' | 'decode' | 'done';
  scanned: number;
  decoded: number;
  cached: number;
  skipped: number;
  total: number;
  imagesPerSecond: number;
  etaSeconds: number;
  /** A line for people, e.g. "waiting for another import of this folder (process 123)". */
  message?: string;
  /**
   * On `done` only: the images the dataset holds (the report's count, after duplicates; `total`
   * counts files named like images), and `skipped` is then the report's every skipped file.
   */
  images?: number;
  /** On `done` only: the report's warnings (a tiny class, a class missing from validation…). */
  warnings?: string[];
}

/** An imported dataset as the cache records it (the contract's `DatasetSummary` adds the report). */
export interface DatasetSummary {
  id: string;
  root: string;
  images: number;
  classes: string[];
  preprocessing: Preprocessing;
  importedAt: string;
}

/** Why a folder is refused before (or instead of) becoming a dataset. */
export type ImportRefusal = 'no-images' | 'one-class' | 'no-readable-images';
