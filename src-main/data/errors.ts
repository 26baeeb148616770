/** Why one file could not become an example. Never fatal for an import: it is reported and skipped. */
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
