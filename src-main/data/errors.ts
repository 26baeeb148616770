/** Why one file could not become an example. Never fatal for an import: it is reported and skipped. */
import type { ImageErrorReason } from '../common/data.js';
export type { ImageErrorReason };

export class ImageError extends Error {
  override name = 'ImageError';
  constructor(
    readonly file: string,
    readonly reason: ImageErrorReason,
    message: string,
  ) {
    super(message);
  }
}
