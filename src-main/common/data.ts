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

export interface ImportProgress {
  phase: 'scan' | 'decode' | 'done';
  scanned: number;
  decoded: number;
  cached: number;
  skipped: number;
  total: number;
  imagesPerSecond: number;
  etaSeconds: number;
}

export interface ImportReport {
  classes: Record<string, number>;
  splits: Record<SplitName, Record<string, number>>;
  skipped: { file: string; reason: string; message?: string }[];
  duplicates: { hash: string; files: string[]; crossClass: boolean }[];
  warnings: string[];
  images: number;
  seconds: number;
  imagesPerSecond: number;
  givenSplits: boolean;
  /** Files decoded by this import (the rest came from the cache). */
  decoded: number;
  /** Files served from the cache without decoding. */
  cached: number;
}
