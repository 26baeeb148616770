import { beforeAll, describe, expect, it, vi } from 'vitest';
import { channels } from '../../src-main/electron/channels.js';

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
    expect(Object.keys(bridge).sort()).toEqual([
      'call',
      'onMenu',
      'pathForFile',
      'pickFiles',
      'pickFolder',
      'pickSave',
      'subscribe',
    ]);
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

  it('delivers event batches one by one and unsubscribes', () => {
    const got: unknown[] = [];
    const off = bridge.subscribe((e: unknown) => got.push(e));
    listeners.get(channels.events)!({}, [{ type: 'a' }, { type: 'b' }]);
    listeners.get(channels.events)!({}, 'not a batch');
    expect(got).toEqual([{ type: 'a' }, { type: 'b' }]);
    off();
    expect(listeners.has(channels.events)).toBe(false);
  });
});
