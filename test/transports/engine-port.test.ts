/**
 * The engine half of the event stream: with an event port (a real Node MessageChannel here, like
 * Electron's MessagePortMain) the engine posts every throttled event there and tells the host
 * only about job lifecycle events; without one, everything goes to the host as before.
 */
import { EventEmitter } from 'node:events';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServiceEvent } from '../../src-main/contract.js';
import {
  serveEngine,
  type ChildMessage,
  type EngineHandler,
  type EnginePort,
} from '../../src-main/transports/engine-port.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function fakeHandler() {
  const listeners = new Set<(e: ServiceEvent) => void>();
  const handler: EngineHandler = {
    call: async () => ({}),
    subscribe(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
  return { handler, emit: (e: ServiceEvent) => listeners.forEach((l) => l(e)) };
}

function hostPort() {
  const bus = new EventEmitter();
  const toHost: ChildMessage[] = [];
  const port: EnginePort = {
    postMessage: (m) => toHost.push(m),
    on: (_e, fn) => bus.on('message', fn),
  };
  return { port, toHost, send: (msg: unknown, ports?: unknown[]) => bus.emit('message', msg, ports) };
}

/** A channel whose far end records what the engine streams. */
function stream() {
  const { port1, port2 } = new MessageChannel();
  const got: ServiceEvent[] = [];
  port2.on('message', (e: ServiceEvent) => got.push(e));
  port1.unref();
  port2.unref();
  open.push(port1, port2);
  return { engineEnd: port1, uiEnd: port2, got };
}
const open: MessagePort[] = [];
afterEach(() => {
  for (const p of open.splice(0)) p.close();
});

const progress = (jobId: string, done: number): ServiceEvent => ({
  type: 'job.progress',
  jobId,
  kind: 'import',
  progress: { done, total: 100 },
});

describe('serveEngine event port', () => {
  it('sends events to the host while no port is connected', () => {
    const { handler, emit } = fakeHandler();
    const host = hostPort();
    serveEngine(host.port, handler);
    emit(progress('j', 1));
    expect(host.toHost).toEqual([{ t: 'ready' }, { t: 'event', event: progress('j', 1) }]);
  });

  it('streams throttled events on the port and tells the host only the job lifecycle', async () => {
    const { handler, emit } = fakeHandler();
    const host = hostPort();
    const s = stream();
    serveEngine(host.port, handler, { progressIntervalMs: 50 });
    host.send({ t: 'event-port' }, [s.engineEnd]);
    emit({ type: 'job.started', job: { jobId: 'j', kind: 'import' } } as ServiceEvent);
    for (let i = 1; i <= 20; i++) emit(progress('j', i)); // a burst: throttled to first + latest
    emit({ type: 'job.item', jobId: 'j', kind: 'predict', item: {} } as unknown as ServiceEvent);
    emit({ type: 'job.done', jobId: 'j', kind: 'import', result: {} } as ServiceEvent);
    await sleep(30);
    expect(s.got.map((e) => e.type)).toEqual([
      'job.started',
      'job.progress',
      'job.progress',
      'job.item',
      'job.done',
    ]);
    expect((s.got[2] as any).progress.done).toBe(20); // latest wins
    expect(host.toHost.map((m) => m.t)).toEqual(['ready', 'streamed', 'streamed']);
    expect(host.toHost.filter((m) => m.t === 'streamed').map((m: any) => m.event.type)).toEqual([
      'job.started',
      'job.done',
    ]);
  });

  it('keeps only the newest port, closes the stale one and falls back to the host when the UI end closes', async () => {
    const { handler, emit } = fakeHandler();
    const host = hostPort();
    const a = stream();
    const b = stream();
    serveEngine(host.port, handler, { progressIntervalMs: 0 });
    host.send({ t: 'event-port' }, [a.engineEnd]);
    host.send({ t: 'event-port' }, [b.engineEnd]);
    let aClosed = false;
    a.uiEnd.on('close', () => (aClosed = true));
    emit(progress('j', 1));
    await sleep(30);
    expect(aClosed).toBe(true);
    expect(a.got).toEqual([]);
    expect(b.got).toEqual([progress('j', 1)]);

    b.uiEnd.close(); // the window went away
    await sleep(30);
    emit(progress('j', 2));
    expect(host.toHost.at(-1)).toEqual({ t: 'event', event: progress('j', 2) });
  });

  it('ignores an event-port message without a port, and closes the port on stop', async () => {
    const { handler, emit } = fakeHandler();
    const host = hostPort();
    const s = stream();
    serveEngine(host.port, handler, { progressIntervalMs: 0 });
    host.send({ t: 'event-port' });
    host.send({ t: 'event-port' }, [{ not: 'a port' }]);
    emit(progress('j', 1));
    expect(host.toHost.at(-1)).toEqual({ t: 'event', event: progress('j', 1) });
    host.send({ t: 'event-port' }, [s.engineEnd]);
    let closed = false;
    s.uiEnd.on('close', () => (closed = true));
    host.send({ t: 'stop' });
    await sleep(30);
    expect(host.toHost.at(-1)).toEqual({ t: 'stopped' });
    expect(closed).toBe(true);
  });
});
