/**
 * Data room: everything between a folder of images on disk and the uint8 examples training,
 * evaluation and prediction read. Owns scanning, decoding (`prepareImage`), the pixel cache under
 * `dataHome()`, splits and the import report, and the disk-space check every room that writes
 * bulk data shares (disk-space.ts). This file is the only one other folders import (the store and
 * service take disk-space.ts itself, so that the rest of this room still loads lazily).
 */
export type { ExampleSet, PreparedImage, Preprocessing } from './types.js';
export { DEFAULT_BACKGROUND, MAX_INPUT_PIXELS, prepareImage, thumbnail } from './decode.js';
export { ImageError, type ImageErrorReason } from './errors.js';
export { IMAGE_EXTENSIONS } from './formats.js';
export { dataHome } from './home.js';
export { isInside } from './inside.js';
export { scanFolder, type ScanOptions, type ScanResult, type ScannedFile, type SplitName } from './scan.js';
export {
  type DuplicateGroup,
  type ImportProgress,
  type ImportRefusal,
  ImportRefusedError,
  type ImportReport,
  type SkippedFile,
  type SkipReason,
} from './report.js';
export { listDatasets, removeDataset } from './catalog.js';
export { type DatasetSummary, writeAtomic } from './cache.js';
export { chooseImageSize, importDataset, type ImportedDataset, type ImportOptions } from './import.js';
export {
  byteSize,
  checkRoom,
  DISK_RESERVE,
  DiskSpaceError,
  lackOfSpace,
  statfsFree,
  type FreeSpace,
} from './disk-space.js';
