/**
 * The message protocol between the host (main process / `rank1 serve`) and the engine process,
 * and the child half of it over any message port: Node's `process` (fork) or Electron's
 * `process.parentPort` (utilityProcess). Imports no service code, so tests can serve a fake.
 *
 * Events can also stream on a separate port (Electron: one end of a MessageChannelMain, the other
 * end held by the renderer's preload): the host sends `{ t: 'event-port' }` with the port
 * transferred, the engine then posts every (throttled) ServiceEvent there and tells the host only
 * about job lifecycle events (`streamed`), which it needs to fail running jobs after a crash.
 */
import type { ServiceErrorShape, ServiceEvent, ServiceHandler } from '../contract.js';
import { throttleEvents, toErrorShape } from './shared.js';

/** Host → engine. */
export type HostMessage =
  | { t: 'call'; id: number; op: string; args: unknown }
  /** Privileged: only the host sends it, never anything that came over a wire. */
  | { t: 'grant'; path: string }
  /** Privileged: stream events on the transferred port (`ports[0]`), replacing any earlier one. */
  | { t: 'event-port' }
  | { t: 'stop' };

/** Engine → host. */
export type ChildMessage =
  | { t: 'ready' }
  | { t: 'result'; id: number; ok: true; result: unknown }
  | { t: 'result'; id: number; ok: false; error: ServiceErrorShape }
  | { t: 'event'; event: ServiceEvent }
  /** A job lifecycle event already posted on the event port: for the host's bookkeeping only. */
  | { t: 'streamed'; event: ServiceEvent }
  | { t: 'stopped' };

/** A port that carries events only (Electron's MessagePortMain, Node's worker MessagePort). */
export interface EventPort {
  postMessage(event: ServiceEvent): void;
  close?(): void;
  start?(): void;
  /** 'close': the other end is gone (window closed or reloaded). */
  on?(event: 'close', fn: () => void): unknown;
}

/** The child's end of the channel: what Node's `process` and Electron's `parentPort` both offer (adapted). */
export interface EnginePort {
  postMessage(msg: ChildMessage): void;
  /** `ports`: ports transferred with the message (Electron's parentPort only). */
  on(event: 'message', fn: (msg: unknown, ports?: readonly unknown[]) => void): void;
}

/** Progress and prediction rows go only to the event port; the rest is the job lifecycle. */
const isLifecycle = (e: ServiceEvent) => e.type !== 'job.progress' && e.type !== 'job.item';

function isEventPort(p: unknown): p is EventPort {
  return typeof p === 'object' && p !== null && typeof (p as EventPort).postMessage === 'function';
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
  /** Where events stream, when the host gave a port; otherwise they go to the host. */
  let eventPort: EventPort | undefined;
  const dropEventPort = (p: EventPort | undefined) => {
    if (!p) return;
    if (eventPort === p) eventPort = undefined;
    try {
      p.close?.();
    } catch {
      /* already closed */
    }
  };
  const sendEvent = (event: ServiceEvent) => {
    const p = eventPort;
    if (p) {
      try {
        p.postMessage(event);
        if (isLifecycle(event)) post({ t: 'streamed', event });
        return;
      } catch (err) {
        console.error('engine: could not post on the event port, falling back to the host:', err);
        dropEventPort(p);
      }
    }
    post({ t: 'event', event });
  };
  const throttle = throttleEvents(sendEvent, opts.progressIntervalMs ?? 100);
  const unsubscribe = handler.subscribe((e) => throttle.push(e));
  let stopping = false;

  port.on('message', (raw, ports) => {
    const msg = raw as HostMessage;
    if (typeof msg !== 'object' || msg === null) return;
    if (msg.t === 'event-port') {
      const next = ports?.[0];
      if (stopping || !isEventPort(next)) return;
      // Only the newest port is live: a stale one (old window, reloaded page) is closed.
      dropEventPort(eventPort);
      eventPort = next;
      next.on?.('close', () => {
        if (eventPort === next) eventPort = undefined;
      });
      next.start?.();
      return;
    }
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
          dropEventPort(eventPort);
          post({ t: 'stopped' });
          opts.onStop?.();
        });
    }
  });
  post({ t: 'ready' });
  return () => {
    unsubscribe();
    throttle.dispose();
    dropEventPort(eventPort);
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
      // No ports over Node's IPC (and its second argument, a socket handle, is never a port).
      process.on('message', (msg) => fn(msg));
    },
  };
}
