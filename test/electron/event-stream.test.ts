/**
 * The event stream end to end, with only Electron faked: the real main.ts, engine.ts (process
 * host), engine-entry adapter + serveEngine (run in-process as the "utility process") and the
 * real preload, joined by Node's MessageChannel standing in for MessageChannelMain / DOM ports.
 */
import { EventEmitter } from 'node:events';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ServiceEvent } from '../../src-main/contract.js';
import type { EngineHandler } from '../../src-main/transports/engine-port.js';
import { fakeElectronMain } from './fake-electron.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const openPorts: MessagePort[] = [];
const ipcListeners = new Map<string, Set<(...a: any[]) => void>>();
const exposed = new Map<string, any>();
const windows: any[] = [];
const channelsMade: MessageChannel[] = [];

/** One fake utility process: serves a scriptable handler over a parentPort-like emitter. */
class FakeUtility extends EventEmitter {
  readonly parent = new EventEmitter();
  readonly subs = new Set<(e: ServiceEvent) => void>();
  readonly handler: EngineHandler = {
    call: async (op) => ({ op }),
    subscribe: (l) => {
      this.subs.add(l);
      return () => this.subs.delete(l);
    },
  };
  emitEvent(e: ServiceEvent) {
    for (const l of this.subs) l(e);
  }
  /** main → child: arrives as a MessageEvent with the transferred ports. */
  postMessage(data: unknown, transfer?: unknown[]) {
    setImmediate(() => this.parent.emit('message', { data, ports: transfer ?? [] }));
  }
  kill() {
    this.emit('exit', null);
  }
}
const utilities: FakeUtility[] = [];

const deliverIpc = (channel: string, event: object, payload: unknown) => {
  for (const fn of ipcListeners.get(channel) ?? []) fn(event, payload);
};

function fakeElectron() {
  const main = fakeElectronMain({
    userData: '/tmp/rank1-event-stream-test-userdata',
    windows,
    // main → renderer IPC, delivered to the preload's ipcRenderer listeners
    send: (channel, payload) => deliverIpc(channel, { sender: {} }, payload),
    postMessage: (channel, payload, ports = []) => deliverIpc(channel, { sender: {}, ports }, payload),
  });
  class MessageChannelMain {
    readonly port1: MessagePort;
    readonly port2: MessagePort;
    constructor() {
      const c = new MessageChannel();
      c.port1.unref();
      c.port2.unref();
      openPorts.push(c.port1, c.port2);
      channelsMade.push(c);
      this.port1 = c.port1;
      this.port2 = c.port2;
    }
  }
  return {
    ...main,
    MessageChannelMain,
    utilityProcess: { fork: vi.fn(() => spawnUtility()) },
    // preload side
    contextBridge: { exposeInMainWorld: (key: string, api: unknown) => exposed.set(key, api) },
    ipcRenderer: {
      invoke: vi.fn(async () => ({ ok: true, result: null })),
      on: (c: string, fn: (...a: any[]) => void) => {
        if (!ipcListeners.has(c)) ipcListeners.set(c, new Set());
        ipcListeners.get(c)!.add(fn);
      },
      removeListener: (c: string, fn: (...a: any[]) => void) => ipcListeners.get(c)?.delete(fn),
    },
    webUtils: { getPathForFile: () => '' },
  };
}

let spawnUtility: () => FakeUtility;
let electron: ReturnType<typeof fakeElectron>;
let bridge: any;
const got: any[] = [];

beforeAll(async () => {
  vi.doMock('../../src-main/transports/engine-child.js', () => ({ runEngineChild: vi.fn() }));
  const { parentPortAdapter } = await import('../../src-main/electron/engine-entry.js');
  const { serveEngine } = await import('../../src-main/transports/engine-port.js');
  spawnUtility = () => {
    const u = new FakeUtility();
    utilities.push(u);
    const parentPort = {
      // child → main, asynchronously (like a real process boundary)
      postMessage: (m: unknown) => setImmediate(() => u.emit('message', m)),
      on: (_e: 'message', fn: (e: { data: unknown; ports?: readonly unknown[] }) => void) =>
        u.parent.on('message', fn),
    };
    serveEngine(parentPortAdapter(parentPort), u.handler, { progressIntervalMs: 0 });
    return u;
  };
  electron = fakeElectron();
  vi.doMock('electron', () => electron);
  await import('../../src-main/electron/main.js');
  await sleep(20);
  await import('../../src-main/electron/preload.js');
  bridge = exposed.get('rank1');
  bridge.subscribe((e: unknown) => got.push(e));
});

afterAll(() => {
  for (const p of openPorts) p.close();
});

const progress = (jobId: string, done: number): ServiceEvent => ({
  type: 'job.progress',
  jobId,
  kind: 'train',
  progress: { done, total: 10 },
});

describe('engine → renderer event stream (electron mocked)', () => {
  it('streams job events over the port pair, not through main', async () => {
    const w = windows[0];
    w.webContents.emit('did-finish-load');
    await sleep(20);
    expect(channelsMade).toHaveLength(1);
    const first = utilities[0]!;
    first.emitEvent({ type: 'job.started', job: { jobId: 'j1', kind: 'train' } } as ServiceEvent);
    first.emitEvent(progress('j1', 1));
    await sleep(20);
    expect(got).toEqual([{ type: 'job.started', job: { jobId: 'j1', kind: 'train' } }, progress('j1', 1)]);
    expect(w.webContents.send).not.toHaveBeenCalledWith('rank1:events', expect.anything());
  });

  it('after an engine crash: job.failed and engine.restarted reach the renderer, a new pair is wired, the stale port is ignored', async () => {
    const w = windows[0];
    const first = utilities[0]!;
    got.length = 0;
    first.emit('exit', 1); // the utility process dies mid-training
    await sleep(20);
    expect(got.map((e) => e.type)).toEqual(['job.failed', 'engine.restarted']);
    expect(got[0]).toMatchObject({ jobId: 'j1', error: { code: 'engine-crashed' } });
    expect(utilities).toHaveLength(2);
    expect(channelsMade).toHaveLength(2);
    expect(w.webContents.postMessage).toHaveBeenLastCalledWith('rank1:event-port', null, [
      channelsMade[1]!.port2,
    ]);

    got.length = 0;
    first.emitEvent(progress('j1', 2)); // a late event from the dead engine's port
    utilities[1]!.emitEvent(progress('j2', 1));
    await sleep(20);
    expect(got).toEqual([progress('j2', 1)]);
  });

  it('a reload gets a fresh live stream from the same engine', async () => {
    const w = windows[0];
    w.webContents.emit('did-finish-load');
    await sleep(20);
    expect(channelsMade).toHaveLength(3);
    got.length = 0;
    utilities[1]!.emitEvent(progress('j2', 2));
    await sleep(20);
    expect(got).toEqual([progress('j2', 2)]);
    expect(utilities).toHaveLength(2); // no engine restart for a reload
  });
});
