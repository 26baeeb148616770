/**
 * The store's own refusals (a path outside the grants, an invalid path): the service maps them to
 * the contract's `ServiceError` (service/errors.ts), so the store depends on no contract.
 */
export class StoreError extends Error {
  constructor(
    readonly code: 'bad-request' | 'forbidden',
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}
