import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { channels } from '../../src-main/electron/channels.js';
import { BRIDGE_METHODS } from './helpers.js';

const exposed = new Map<string, any>();
const invoke = vi.fn(async (channel: string, ..._a: unknown[]): Promise<unknown> =>
  channel === channels.grantDrop ? true : { ok: true, result: 1 },
);
const listeners = new Map<string, (...a: any[]) => void>();
vi.mock('electron', () => ({
  contextBridge: { exposeInMainWorld: (key: string, api: unknown) => exposed.set(key, api) },
  ipcRenderer: {
    invoke: (c: string, ...a: unknown[]) => invoke(c, ...a),
    on: (c: string, fn: (...a: any[]) => void) => listeners.set(c, fn),
    removeListener: (c: string) => listeners.delete(c),
  },
  webUtils: { getPathForFile: (f: { path?: string }) => f.path ?? '' },
}));

let bridge: any;
beforeAll(async () => {
  await import('../../src-main/electron/preload.js');
  bridge = exposed.get('rank1');
});

describe('preload', () => {
  it('exposes only the typed bridge, nothing raw', () => {
    expect([...exposed.keys()]).toEqual(['rank1']);
    expect(Object.keys(bridge).sort()).toEqual(BRIDGE_METHODS);
    expect(Object.values(bridge).every((v) => typeof v === 'function')).toBe(true);
  });

  it('unwraps replies and rejects with the typed error shape', async () => {
    expect(await bridge.call('system.info', {})).toBe(1);
    invoke.mockResolvedValueOnce({ ok: false, error: { code: 'forbidden', message: 'no', field: 'path' } });
    await expect(bridge.call('datasets.scan', { path: '/x' })).rejects.toEqual({
      name: 'ServiceError',
      code: 'forbidden',
      message: 'no',
      field: 'path',
    });
  });

  it('grants a dropped file with main before the next call goes out', async () => {
    invoke.mockClear();
    expect(bridge.pathForFile({ path: '/photos/cat.png' })).toBe('/photos/cat.png');
    expect(bridge.pathForFile({})).toBe('');
    await bridge.call('predict', { model: 'm', paths: ['/photos/cat.png'] });
    expect(invoke.mock.calls.map((c) => c[0])).toEqual([channels.grantDrop, channels.call]);
    expect(invoke.mock.calls[0]![1]).toBe('/photos/cat.png');
  });

  it("delivers main's event batches one by one and unsubscribes", () => {
    const got: unknown[] = [];
    const off = bridge.subscribe((e: unknown) => got.push(e));
    listeners.get(channels.events)!({}, [{ type: 'a' }, { type: 'b' }]);
    listeners.get(channels.events)!({}, 'not a batch');
    expect(got).toEqual([{ type: 'a' }, { type: 'b' }]);
    off();
    listeners.get(channels.events)!({}, [{ type: 'c' }]);
    expect(got).toHaveLength(2);
  });
});

describe('preload event port', () => {
  const open: MessagePort[] = [];
  /** main's side of a fresh pair: hands `port2` to the preload the way webContents.postMessage does. */
  const handOver = () => {
    const { port1, port2 } = new MessageChannel();
    port1.unref();
    port2.unref();
    open.push(port1, port2);
    listeners.get(channels.eventPort)!({ ports: [port2], sender: {} }, null);
    return port1; // the engine's end
  };
  const settle = () => new Promise((r) => setTimeout(r, 20));
  afterAll(() => open.forEach((p) => p.close()));

  it('forwards port messages to the subscribed callback, as plain events only', async () => {
    const got: unknown[] = [];
    const off = bridge.subscribe((e: unknown) => got.push(e));
    const engine = handOver();
    engine.postMessage({ type: 'job.progress', jobId: 'j', kind: 'import', progress: { done: 1, total: 2 } });
    engine.postMessage('not an event');
    engine.postMessage({ no: 'type' });
    await settle();
    expect(got).toEqual([
      { type: 'job.progress', jobId: 'j', kind: 'import', progress: { done: 1, total: 2 } },
    ]);
    off();
    engine.postMessage({ type: 'job.done', jobId: 'j', kind: 'import', result: {} });
    await settle();
    expect(got).toHaveLength(1);
  });

  it('ignores a stale port once a new one arrives, and closes it', async () => {
    const got: any[] = [];
    const off = bridge.subscribe((e: unknown) => got.push(e));
    const old = handOver();
    let oldClosed = false;
    old.on('close', () => (oldClosed = true));
    const fresh = handOver();
    old.postMessage({
      type: 'job.progress',
      jobId: 'stale',
      kind: 'import',
      progress: { done: 1, total: 2 },
    });
    fresh.postMessage({
      type: 'job.progress',
      jobId: 'live',
      kind: 'import',
      progress: { done: 1, total: 2 },
    });
    await settle();
    expect(got.map((e) => e.jobId)).toEqual(['live']);
    expect(oldClosed).toBe(true);
    listeners.get(channels.eventPort)!({ ports: [] }, null); // nothing to take: keeps the live one
    fresh.postMessage({ type: 'job.cancelled', jobId: 'live', kind: 'import' });
    await settle();
    expect(got.map((e) => e.type)).toEqual(['job.progress', 'job.cancelled']);
    off();
  });

  it('drops messages a stale port still delivers (in flight when it was replaced)', () => {
    const fakePort = () => {
      const handlers: Array<(m: { data: unknown }) => void> = [];
      return {
        addEventListener: (_t: string, h: (m: { data: unknown }) => void) => handlers.push(h),
        start: vi.fn(),
        close: vi.fn(),
        deliver: (data: unknown) => handlers.forEach((h) => h({ data })),
      };
    };
    const got: any[] = [];
    const off = bridge.subscribe((e: unknown) => got.push(e));
    const a = fakePort();
    const b = fakePort();
    listeners.get(channels.eventPort)!({ ports: [a] }, null);
    expect(a.start).toHaveBeenCalled();
    a.deliver({ type: 'job.progress', jobId: 'a1' });
    listeners.get(channels.eventPort)!({ ports: [b] }, null);
    expect(a.close).toHaveBeenCalled();
    a.deliver({ type: 'job.progress', jobId: 'a2' }); // stale: ignored
    b.deliver({ type: 'job.progress', jobId: 'b1' });
    expect(got.map((e) => e.jobId)).toEqual(['a1', 'b1']);
    off();
  });

  it('never exposes the port or ipcRenderer through the bridge', () => {
    handOver();
    const seen = new Set<unknown>();
    const walk = (v: unknown): void => {
      if (typeof v !== 'object' || v === null || seen.has(v)) return;
      seen.add(v);
      expect(v).not.toBeInstanceOf(MessageChannel);
      expect(typeof (v as { postMessage?: unknown }).postMessage).not.toBe('function');
      Object.values(v).forEach(walk);
    };
    walk(Object.fromEntries(exposed));
    const off = bridge.subscribe(() => {});
    expect(typeof off).toBe('function');
    expect(Object.keys(bridge)).not.toContain('ipcRenderer');
    expect(Object.keys(bridge).sort()).toEqual(BRIDGE_METHODS);
    off();
  });
});
