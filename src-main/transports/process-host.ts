/**
 * The host half of the engine process: a ServiceHandler that forwards every call to a child
 * process (Node fork in `rank1 serve`, Electron utilityProcess in the app) so the engine never
 * runs on the UI/main thread. When the child dies, nothing hangs: pending calls reject with
 * 'engine-crashed', running jobs get `job.failed`, the child is restarted with its grants, and
 * listeners hear `engine.restarted`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { listeners, ServiceError, type ServiceEvent, type ServiceHandler } from '../contract.js';
import type { ChildMessage, HostMessage } from './engine-port.js';
import { RunningJobs, toServiceError } from './shared.js';

/** A minimal message port to one engine process; adapters exist for fork and utilityProcess. */
export interface Endpoint {
  /** `transfer`: ports to hand over with the message (utilityProcess only; fork ignores it). */
  postMessage(msg: HostMessage, transfer?: unknown[]): void;
  on(event: 'message', fn: (msg: ChildMessage) => void): void;
  /** Fires once when the process is gone, however it went. */
  on(event: 'exit', fn: (code: number | null, signal?: string | null) => void): void;
  kill(): void;
}

export interface EngineProcessOptions {
  spawn(): Endpoint;
  onRestart?(reason: string): void;
  /** Give up restarting after this many crashes within `crashWindowMs` (defaults 5 in 60 s). */
  maxCrashes?: number;
  crashWindowMs?: number;
  /** How long `stop()` waits for a clean exit before killing (default 3 s). */
  stopTimeoutMs?: number;
}

export interface EngineProcess extends ServiceHandler {
  /** Privileged: let the engine read/write under `path`; re-sent to every restarted child. */
  grant(path: string): void;
  /** Stop the child (cleanly when it answers, killed otherwise); later calls reject. */
  stop(): Promise<void>;
  /** End the child now, without a restart (a shutdown that ran out of time); later calls reject. */
  kill(): void;
  /**
   * Stream the current child's events on `port` (transferred; needs an endpoint that can transfer
   * ports). The child then tells the host only about job lifecycle events, so listeners here no
   * longer hear progress. Not carried over a restart: a new child needs a new port. False when
   * there is no child to take it.
   */
  connectEvents(port: unknown): boolean;
}

interface Child {
  endpoint: Endpoint;
  ready: boolean;
  queue: Array<{ msg: HostMessage; transfer?: unknown[] }>;
  exited: boolean;
  onExit: Array<() => void>;
}

export function startEngineProcess(opts: EngineProcessOptions): EngineProcess {
  const events = listeners<ServiceEvent>((err) => console.error('engine listener failed:', err));
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void; op: string }>();
  /** Jobs started and not yet finished, so a crash can fail them. */
  const running = new RunningJobs();
  const grants = new Set<string>();
  const crashes: number[] = [];
  const maxCrashes = opts.maxCrashes ?? 5;
  const crashWindowMs = opts.crashWindowMs ?? 60_000;
  let nextId = 1;
  let stopped = false;
  let gaveUp: string | undefined;
  let child: Child | undefined;

  const emit = (e: ServiceEvent) => events.emit(e);

  /** Post one message; a call whose arguments cannot be cloned is refused, not sent. */
  const post = (c: Child, msg: HostMessage, transfer?: unknown[]) => {
    try {
      if (transfer) c.endpoint.postMessage(msg, transfer);
      else c.endpoint.postMessage(msg);
    } catch (err) {
      if (msg.t !== 'call') throw err;
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      p?.reject(
        new ServiceError(
          'bad-request',
          `${msg.op.slice(0, 100)}: arguments must be plain data (${(err as Error).message}).`,
        ),
      );
    }
  };
  const send = (c: Child, msg: HostMessage, transfer?: unknown[]) => {
    if (c.ready) post(c, msg, transfer);
    else c.queue.push(transfer ? { msg, transfer } : { msg });
  };

  const spawnChild = (): Child => {
    const c: Child = { endpoint: opts.spawn(), ready: false, queue: [], exited: false, onExit: [] };
    for (const path of grants) c.queue.push({ msg: { t: 'grant', path } });
    c.endpoint.on('message', (msg) => {
      if (c !== child || typeof msg !== 'object' || msg === null) return;
      if (msg.t === 'ready') {
        c.ready = true;
        for (const m of c.queue.splice(0)) post(c, m.msg, m.transfer);
      } else if (msg.t === 'result') {
        const p = pending.get(msg.id);
        if (!p) return;
        pending.delete(msg.id);
        if (msg.ok) {
          running.started(p.op, msg.result);
          p.resolve(msg.result);
        } else p.reject(toServiceError(msg.error));
      } else if (msg.t === 'event') {
        running.track(msg.event);
        emit(msg.event);
      } else if (msg.t === 'streamed') {
        running.track(msg.event); // already on its way to the UI over the event port
      }
    });
    c.endpoint.on('exit', (code, signal) => {
      if (c.exited) return;
      c.exited = true;
      for (const f of c.onExit.splice(0)) f();
      if (c === child) crashed(describeExit(code, signal));
    });
    return c;
  };

  const crashed = (how: string) => {
    child = undefined;
    const reason = `The engine process ${how}.`;
    const failPending = (message: string) => {
      for (const [id, p] of pending) {
        pending.delete(id);
        p.reject(new ServiceError('engine-crashed', message));
      }
    };
    const jobs = running.drain();
    const now = Date.now();
    crashes.push(now);
    while (crashes.length && now - crashes[0]! > crashWindowMs) crashes.shift();
    const restart = !stopped && crashes.length <= maxCrashes;
    if (!restart && !stopped)
      gaveUp = `${reason} It crashed ${crashes.length} times in a row, so it was not restarted again; quit and start Rank-1 Studio again, and if it keeps happening, check the log.`;
    const next = restart ? 'It has been restarted; try again.' : (gaveUp ?? 'It has been stopped.');
    failPending(`${reason} ${next}`);
    for (const [jobId, kind] of jobs) {
      emit({
        type: 'job.failed',
        jobId,
        kind,
        error: {
          code: 'engine-crashed',
          message: `${reason} This ${kind} was interrupted; ${restart ? 'the engine has been restarted — run it again' : next}${kind === 'train' ? ' (a training can resume from its last saved checkpoint)' : ''}.`,
        },
      });
    }
    if (!restart) return;
    child = spawnChild();
    opts.onRestart?.(how);
    emit({ type: 'engine.restarted', reason: how });
  };

  child = spawnChild();

  return {
    call(op, args) {
      if (stopped) return Promise.reject(new ServiceError('failed', 'The engine has been stopped.'));
      if (gaveUp || !child)
        return Promise.reject(new ServiceError('engine-crashed', gaveUp ?? 'The engine is not running.'));
      const id = nextId++;
      const c = child;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject, op: String(op) });
        send(c, { t: 'call', id, op: String(op), args });
      });
    },
    subscribe(listener) {
      return events.add(listener);
    },
    grant(path) {
      grants.add(path);
      if (child && !stopped) send(child, { t: 'grant', path });
    },
    connectEvents(port) {
      const c = child;
      if (!c || c.exited || stopped) return false;
      try {
        send(c, { t: 'event-port' }, [port]);
        return true;
      } catch (err) {
        console.error('engine: could not hand over the event port:', err);
        return false;
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      const c = child;
      if (!c || c.exited) return;
      const gone = new Promise<void>((r) => c.onExit.push(r));
      try {
        send(c, { t: 'stop' });
      } catch {
        /* channel already closed */
      }
      const timer = setTimeout(() => c.endpoint.kill(), opts.stopTimeoutMs ?? 3000);
      await gone;
      clearTimeout(timer);
    },
    kill() {
      stopped = true;
      if (child && !child.exited) child.endpoint.kill();
    },
  };
}

function describeExit(code: number | null, signal?: string | null): string {
  if (signal) return `was killed (${signal})`;
  if (code === 0) return 'exited unexpectedly';
  return `crashed (exit code ${code ?? 'unknown'})`;
}

// ---------------------------------------------------------------------------------------------
// Node fork (serve mode)

export interface ForkEngineOptions {
  /** The child module; default the engine child beside this file (.js when built, .ts from source). */
  module?: string;
  env?: NodeJS.ProcessEnv;
  /** Where the child's stdout goes; default our stderr, so stdout stays the host's own (serve prints its URL there). */
  stdout?: NodeJS.WritableStream;
}

export type ForkedEndpoint = Endpoint & { readonly child: ChildProcess };

/** Fork the engine child with an IPC channel (structured-clone serialization, like utilityProcess). */
export function forkEngine(opts: ForkEngineOptions = {}): ForkedEndpoint {
  const here = fileURLToPath(import.meta.url);
  const fromSource = here.endsWith('.ts');
  const module =
    opts.module ??
    fileURLToPath(new URL(fromSource ? './engine-child.ts' : './engine-child.js', import.meta.url));
  const execArgv = module.endsWith('.ts') ? ['--import', tsxLoader()] : [];
  const child = fork(module, [], {
    execArgv,
    env: opts.env ?? process.env,
    serialization: 'advanced',
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    // Its own process group (POSIX): a terminal's Ctrl+C or a `kill -TERM -PGID` reaches the host
    // only, which then stops the engine in order, instead of the engine dying mid-job and being
    // restarted during shutdown. A host that dies anyway closes the IPC channel; the child exits.
    detached: process.platform !== 'win32',
  });
  child.stdout?.pipe((opts.stdout ?? process.stderr) as NodeJS.WritableStream, { end: false });
  const exitFns: Array<(code: number | null, signal?: string | null) => void> = [];
  let exited = false;
  const exit = (code: number | null, signal: string | null) => {
    if (exited) return;
    exited = true;
    for (const f of exitFns) f(code, signal);
  };
  child.on('exit', exit);
  // A failed spawn emits 'error' and maybe never 'exit'.
  child.on('error', (err) => {
    if (child.exitCode === null && child.signalCode === null && !child.connected) exit(null, null);
    else console.error('engine process error:', err.message);
  });
  return {
    child,
    postMessage(msg) {
      // A closed channel means the child is going: its exit fails whatever was pending.
      if (child.connected) child.send(msg);
    },
    on(event: 'message' | 'exit', fn: (...a: any[]) => void) {
      if (event === 'message') child.on('message', fn);
      else exitFns.push(fn);
    },
    kill() {
      if (!exited) child.kill('SIGKILL');
    },
  } as ForkedEndpoint;
}

function tsxLoader(): string {
  const path = createRequire(import.meta.url).resolve('tsx');
  if (!existsSync(path)) throw new Error('forkEngine: running from source needs the tsx package.');
  return pathToFileURL(path).href;
}
