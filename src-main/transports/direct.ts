/**
 * In-process transport (CLI, tests): the handler runs in this process, but arguments, results,
 * errors and events are copied with structuredClone so callers see the same semantics as over a
 * wire: no shared mutable objects, errors arrive as ServiceError, nothing uncloneable gets through.
 */
import { ServiceError, type ServiceEvent, type ServiceHandler } from '../contract.js';
import { toServiceError } from './shared.js';

export function connectDirect(handler: ServiceHandler): ServiceHandler {
  return {
    async call(op, args) {
      let copy: unknown;
      try {
        copy = structuredClone(args);
      } catch {
        throw new ServiceError('bad-request', `${String(op).slice(0, 100)}: arguments must be plain data.`);
      }
      let result: unknown;
      try {
        result = await handler.call(op, copy);
      } catch (err) {
        throw toServiceError(err);
      }
      try {
        return structuredClone(result);
      } catch {
        throw new ServiceError('failed', `${String(op).slice(0, 100)}: the result could not be sent.`);
      }
    },
    subscribe(listener: (e: ServiceEvent) => void) {
      return handler.subscribe((e) => listener(structuredClone(e)));
    },
  };
}
