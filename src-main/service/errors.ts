/**
 * Any thrown value → a `ServiceError` whose message says what to do; the one place where the
 * rooms' own errors (store, data, Node's errno) become the contract's.
 */
import { ServiceError } from '../contract.js';
import { ModelFormatError, ModelImportError, OutputFolderError, StoreError } from '../store/index.js';

export function abortError(): Error {
  const e = new Error('Cancelled.');
  e.name = 'AbortError';
  return e;
}

export function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/** Any thrown value → a typed error with a message saying what to do. Never throws. */
export function toServiceError(e: unknown): ServiceError {
  if (e instanceof ServiceError) return e;
  if (e instanceof OutputFolderError) return new ServiceError('conflict', `${e.message}.`, 'out');
  if (e instanceof ModelImportError)
    return new ServiceError('failed', `Cannot import the model: ${e.message}.`);
  // `detail` names the file and field without the folder (internal paths stay on the server).
  if (e instanceof ModelFormatError) return new ServiceError('failed', `${e.detail}.`);
  if (e instanceof StoreError) return new ServiceError(e.code, e.message, e.field);
  if (e instanceof Error) {
    if (e.name === 'AbortError') return new ServiceError('cancelled', 'Cancelled.');
    if (e.name === 'ImageError') {
      const file = (e as Error & { file?: string }).file;
      return new ServiceError('failed', `${file ? `${file}: ` : ''}${e.message}`);
    }
    const code = errno(e);
    const where = (e as NodeJS.ErrnoException).path;
    if (code === 'ENOENT')
      return new ServiceError(
        'not-found',
        `${where ?? 'A file'} does not exist; check the path and try again.`,
      );
    if (code === 'EACCES' || code === 'EPERM') {
      return new ServiceError(
        'failed',
        `No permission to access ${where ?? 'a file'}; check its permissions.`,
      );
    }
    if (code === 'ENOSPC')
      return new ServiceError('failed', 'The disk is full; free some space and try again.');
    return new ServiceError('failed', e.message || e.name);
  }
  return new ServiceError('failed', String(e).slice(0, 2000));
}

/** A model that is absent or cannot be read, as one message naming the model and what to do. */
export function modelLoadError(id: string, e: unknown): ServiceError {
  if (e instanceof ServiceError) return e;
  if (e instanceof ModelFormatError) {
    const reason = e.detail;
    const advice = /newer than this app/.test(reason)
      ? 'Update Rank-1 Studio to open it.'
      : 'Remove it and train it again, or import it again from an export.';
    return new ServiceError('failed', `Model "${id}" cannot be loaded: ${reason}. ${advice}`);
  }
  const se = toServiceError(e);
  return new ServiceError(
    se.code === 'not-found' ? 'failed' : se.code,
    `Model "${id}" cannot be loaded: ${se.message}`,
  );
}

/** One line for an image that could not be read (the data room's reason first). */
export function imageErrorMessage(e: unknown): string {
  if (e instanceof Error) {
    const reason = (e as Error & { reason?: string }).reason;
    return reason && !e.message.includes(reason) ? `${reason}: ${e.message}` : e.message;
  }
  return String(e);
}
