/** The error a service call fails with, for tests that check its code and message. */
import type { ServiceError } from '../../src-main/contract.js';

/** Await `p` and return what it rejects with; a call that succeeds fails the test. */
export async function errorOf(p: Promise<unknown>): Promise<ServiceError> {
  try {
    await p;
  } catch (e) {
    return e as ServiceError;
  }
  throw new Error('expected an error');
}
