/** Why one file could not become an example. Never fatal for an import: it is reported and skipped. */
export type ImageErrorReason =
  'corrupt' | 'truncated' | 'unsupported' | 'unreadable' | 'too-large' | 'empty' | 'not-image';

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
