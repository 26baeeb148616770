/**
 * The store's own errors (issue 14: the store does not import the contract). `code` uses the
 * contract's vocabulary so the service maps a StoreError to a ServiceError one to one.
 */
export type StoreErrorCode = 'bad-request' | 'forbidden' | 'not-found' | 'conflict' | 'failed';

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    /** The argument at fault, when there is one (e.g. a path field). */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}
