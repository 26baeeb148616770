/**
 * The typed client the renderer and CLI use over any transport: `call` for one operation, `run` for
 * a job (start it, then follow its events to its end). Types only from the contract; its one value
 * import is the error class.
 */
import type {
  JobKind,
  JobResults,
  JobStarted,
  OperationArgs,
  OperationName,
  Results,
  ServiceEvent,
  ServiceHandler,
} from '../contract.js';
import { ServiceError } from './errors.js';

export class ServiceClient {
  constructor(private readonly handler: ServiceHandler) {}
  call<O extends OperationName>(op: O, args: OperationArgs<O>): Promise<Results[O]> {
    return this.handler.call(op, args) as Promise<Results[O]>;
  }
  on(listener: (e: ServiceEvent) => void): () => void {
    return this.handler.subscribe(listener);
  }
  /** Start a job and resolve with its result; `onEvent` sees its progress and items. */
  async run<K extends JobKind>(
    op: 'datasets.import' | 'train.start' | 'evaluate' | 'predict' | 'compare.start',
    args: unknown,
    onEvent?: (e: ServiceEvent) => void,
  ): Promise<JobResults[K]> {
    const buffered: ServiceEvent[] = [];
    let jobId: string | undefined;
    let settle!: { resolve: (v: JobResults[K]) => void; reject: (e: Error) => void };
    const done = new Promise<JobResults[K]>((resolve, reject) => (settle = { resolve, reject }));
    const handle = (e: ServiceEvent) => {
      if (!('jobId' in e) || e.jobId !== jobId) return;
      onEvent?.(e);
      if (e.type === 'job.done') settle.resolve(e.result as JobResults[K]);
      else if (e.type === 'job.failed') settle.reject(ServiceError.from(e.error));
      else if (e.type === 'job.cancelled') settle.reject(new ServiceError('cancelled', 'Cancelled.'));
    };
    const off = this.handler.subscribe((e) => (jobId === undefined ? buffered.push(e) : handle(e)));
    try {
      ({ jobId } = (await this.handler.call(op, args)) as JobStarted);
      buffered.splice(0).forEach(handle);
      return await done;
    } finally {
      off();
    }
  }
}
