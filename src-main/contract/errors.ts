/**
 * The error every operation answers with, across every transport: a code, one line of message,
 * and the field it concerns. Defined here, re-exported by the contract.
 */

export const errorCodes = [
  'bad-request', // arguments failed validation: `field` names the first bad one
  'unknown-operation',
  'forbidden', // a path the user did not grant, a missing token, a foreign origin
  'not-found',
  'conflict', // e.g. a training already running on that model name
  'too-large',
  'cancelled',
  'engine-crashed',
  'unsupported',
  'failed', // the operation ran and failed; message says why and what to do
] as const;
export type ErrorCode = (typeof errorCodes)[number];

export interface ServiceErrorShape {
  code: ErrorCode;
  message: string;
  field?: string;
}

export class ServiceError extends Error implements ServiceErrorShape {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ServiceError';
  }
  toJSON(): ServiceErrorShape {
    return { code: this.code, message: this.message, ...(this.field ? { field: this.field } : {}) };
  }
  static from(shape: ServiceErrorShape): ServiceError {
    return new ServiceError(shape.code, shape.message, shape.field);
  }
}
