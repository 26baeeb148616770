/**
 * The message protocol between the host (main process / `rank1 serve`) and the engine process,
 * and the child half of it over any message port: Node's `process` (fork) or Electron's
 * `process.parentPort` (utilityProcess). Imports no service code, so tests can serve a fake.
 */
import type { ServiceErrorShape, ServiceEvent, ServiceHandler } from '../contract.js';
import { throttleEvents, toErrorShape } from './shared.js';

/** Host → engine. */
export type HostMessage =
  | { t: 'call'; id: number; op: string; args: unknown }
  /** Privileged: only the host sends it, never anything that came over a wire. */
  | { t: 'grant'; path: string }
  | { t: 'stop' };

/** Engine → host. */
export type ChildMessage =
  | { t: 'ready' }
  | { t: 'result'; id: number; ok: true; result: unknown }
  | { t: 'result'; id: number; ok: false; error: ServiceErrorShape }
  | { t: 'event'; event: ServiceEvent }
  | { t: 'stopped' };

/** The child's end of the channel: what Node's `process` and Electron's `parentPort` both offer (adapted). */
export interface EnginePort {
  postMessage(msg: ChildMessage): void;
  on(event: 'message', fn: (msg: unknown) => void): void;
}

/** What the engine process serves: the service and its privileged extras. */
export type EngineHandler = ServiceHandler & {
  grant?(path: string): void;
  dispose?(): void | Promise<void>;
};

export interface ServeEngineOptions {
  /** Minimum gap between `job.progress` events of one job (default 100 ms: ≤ 10/s). */
  progressIntervalMs?: number;
  /** Called after a `stop` message once the handler is disposed (the child exits here). */
  onStop?(): void;
}

/** Serve `handler` over `port`; announces `ready` at once. Returns a function that stops serving events. */
export function serveEngine(
  port: EnginePort,
  handler: EngineHandler,
  opts: ServeEngineOptions = {},
): () => void {
  const post = (msg: ChildMessage) => {
    try {
      port.postMessage(msg);
    } catch (err) {
      // An uncloneable result must not kill the engine: answer with an error instead.
      if (msg.t === 'result')
        port.postMessage({
          t: 'result',
          id: msg.id,
          ok: false,
          error: { code: 'failed', message: `The result could not be sent: ${toErrorShape(err).message}` },
        });
      else console.error('engine: could not post message:', err);
    }
  };
  const throttle = throttleEvents((event) => post({ t: 'event', event }), opts.progressIntervalMs ?? 100);
  const unsubscribe = handler.subscribe((e) => throttle.push(e));
  let stopping = false;

  port.on('message', (raw) => {
    const msg = raw as HostMessage;
    if (typeof msg !== 'object' || msg === null) return;
    if (msg.t === 'call' && typeof msg.id === 'number') {
      const id = msg.id;
      let pending: Promise<unknown>;
      try {
        pending = Promise.resolve(handler.call(String(msg.op), msg.args));
      } catch (err) {
        pending = Promise.reject(err);
      }
      pending.then(
        (result) => post({ t: 'result', id, ok: true, result }),
        (err) => post({ t: 'result', id, ok: false, error: toErrorShape(err) }),
      );
    } else if (msg.t === 'grant' && typeof msg.path === 'string') {
      try {
        handler.grant?.(msg.path);
      } catch (err) {
        console.error(`engine: could not grant ${msg.path}:`, toErrorShape(err).message);
      }
    } else if (msg.t === 'stop' && !stopping) {
      stopping = true;
      throttle.flush();
      void Promise.resolve()
        .then(() => handler.dispose?.())
        .catch((err) => console.error('engine: dispose failed:', err))
        .finally(() => {
          unsubscribe();
          throttle.dispose();
          post({ t: 'stopped' });
          opts.onStop?.();
        });
    }
  });
  post({ t: 'ready' });
  return () => {
    unsubscribe();
    throttle.dispose();
  };
}

/** Node's `process` IPC channel as an EnginePort (the child of `forkEngine`). */
export function processPort(): EnginePort {
  if (!process.send) throw new Error('processPort: this process was not started with an IPC channel (fork).');
  // The engine must not outlive its host: when the channel closes, exit.
  process.on('disconnect', () => process.exit(0));
  return {
    postMessage: (msg) => {
      process.send!(msg);
    },
    on: (_event, fn) => {
      process.on('message', fn);
    },
  };
}
