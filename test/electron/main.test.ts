import { EventEmitter } from 'node:events';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { fakeElectronMain } from './fake-electron.js';

/** Enough of Electron for main.ts to run its wiring in Node; MessageChannelMain records its pairs. */
function fakeElectron(lock: boolean) {
  const windows: any[] = [];
  const channelsMade: Array<{ port1: any; port2: any }> = [];
  class MessageChannelMain {
    port1 = { name: `engine-end-${channelsMade.length}`, close: vi.fn() };
    port2 = { name: `ui-end-${channelsMade.length}`, close: vi.fn() };
    constructor() {
      channelsMade.push(this);
    }
  }
  return {
    ...fakeElectronMain({ lock, userData: '/tmp/rank1-main-test-userdata', windows }),
    MessageChannelMain,
    channelsMade,
    windows,
  };
}

let engineListener: ((e: unknown) => void) | undefined;
let restartEngine: ((reason: string) => void) | undefined;
const engine = {
  call: vi.fn(),
  subscribe: vi.fn((l: (e: unknown) => void) => {
    engineListener = l;
    return () => {};
  }),
  grant: vi.fn(),
  stop: vi.fn(async () => {}),
  connectEvents: vi.fn((_port: unknown) => true),
};

async function loadMain(lock: boolean) {
  vi.resetModules();
  const e = fakeElectron(lock);
  vi.doMock('electron', () => e);
  vi.doMock('../../src-main/electron/engine.js', () => ({
    startEngine: vi.fn((onRestart: (reason: string) => void) => {
      restartEngine = onRestart;
      return engine;
    }),
  }));
  await import('../../src-main/electron/main.js');
  await new Promise((r) => setTimeout(r, 20));
  return e;
}

beforeEach(() => vi.clearAllMocks());

describe('main', () => {
  it('registers app:// as a privileged scheme, sandboxes all renderers and denies permissions', async () => {
    const e = await loadMain(true);
    expect(e.protocol.registerSchemesAsPrivileged).toHaveBeenCalledWith([
      expect.objectContaining({
        scheme: 'app',
        privileges: expect.objectContaining({ standard: true, secure: true }),
      }),
    ]);
    expect(e.app.enableSandbox).toHaveBeenCalled();
    expect(e.protocol.handle).toHaveBeenCalledWith('app', expect.any(Function));
    const [req] = e.session.defaultSession.setPermissionRequestHandler.mock.calls[0] as unknown as [
      (...a: any[]) => void,
    ];
    const cb = vi.fn();
    req(null, 'media', cb);
    expect(cb).toHaveBeenCalledWith(false);
    expect(
      (e.session.defaultSession.setPermissionCheckHandler.mock.calls[0] as unknown as [() => boolean])[0](),
    ).toBe(false);
  });

  it('opens one hardened window on app:// with the CommonJS preload', async () => {
    const e = await loadMain(true);
    expect(e.windows).toHaveLength(1);
    const w = e.windows[0];
    expect(w.options.webPreferences).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
    });
    expect(w.options.webPreferences.preload).toMatch(/electron[/\\]preload\.cjs$/);
    expect(w.loadURL).toHaveBeenCalledWith('app://rank1/index.html');
    expect(e.Menu.setApplicationMenu).toHaveBeenCalled();
    expect(e.ipcMain.handle).toHaveBeenCalledWith('rank1:call', expect.any(Function));
    expect(engine.subscribe).toHaveBeenCalled();
    // every web contents gets the navigation guards
    const contents = Object.assign(new EventEmitter(), { setWindowOpenHandler: vi.fn() });
    e.app.emit('web-contents-created', {}, contents);
    expect(contents.setWindowOpenHandler).toHaveBeenCalled();
    expect(contents.listenerCount('will-navigate')).toBe(1);
  });

  it('quits when another instance holds the lock, focusing that one instead', async () => {
    const e = await loadMain(false);
    expect(e.app.quit).toHaveBeenCalled();
    expect(e.windows).toHaveLength(0);
  });

  it('streams events over a MessageChannelMain: one end to the engine, the other to the preload, per page load', async () => {
    const e = await loadMain(true);
    const w = e.windows[0];
    expect(e.channelsMade).toHaveLength(0); // nothing before the page has loaded
    w.webContents.emit('did-finish-load');
    expect(e.channelsMade).toHaveLength(1);
    const [first] = e.channelsMade;
    expect(engine.connectEvents).toHaveBeenCalledWith(first!.port1);
    expect(w.webContents.postMessage).toHaveBeenCalledWith('rank1:event-port', null, [first!.port2]);

    w.webContents.emit('did-finish-load'); // a reload: a fresh pair
    expect(e.channelsMade).toHaveLength(2);
    expect(engine.connectEvents).toHaveBeenLastCalledWith(e.channelsMade[1]!.port1);
    expect(w.webContents.postMessage).toHaveBeenLastCalledWith('rank1:event-port', null, [
      e.channelsMade[1]!.port2,
    ]);

    // A page not on app:// (cannot happen past the guards) gets no port.
    w.webContents.mainFrame.url = 'https://example.com/';
    w.webContents.emit('did-finish-load');
    expect(e.channelsMade).toHaveLength(2);
  });

  it('after an engine restart wires a new pair, and engine.restarted reaches the renderer', async () => {
    const e = await loadMain(true);
    const w = e.windows[0];
    w.webContents.emit('did-finish-load');
    restartEngine!('crashed (exit code 1)');
    engineListener!({ type: 'engine.restarted', reason: 'crashed (exit code 1)' });
    expect(e.channelsMade).toHaveLength(2);
    expect(engine.connectEvents).toHaveBeenLastCalledWith(e.channelsMade[1]!.port1);
    expect(w.webContents.postMessage).toHaveBeenLastCalledWith('rank1:event-port', null, [
      e.channelsMade[1]!.port2,
    ]);
    // main's own notice goes out at once over IPC
    expect(w.webContents.send).toHaveBeenCalledWith('rank1:events', [
      { type: 'engine.restarted', reason: 'crashed (exit code 1)' },
    ]);
  });

  it('closes both ends when the engine cannot take a port, and sends the window none', async () => {
    const e = await loadMain(true);
    const w = e.windows[0];
    engine.connectEvents.mockReturnValueOnce(false);
    w.webContents.emit('did-finish-load');
    expect(e.channelsMade[0]!.port1.close).toHaveBeenCalled();
    expect(e.channelsMade[0]!.port2.close).toHaveBeenCalled();
    expect(w.webContents.postMessage).not.toHaveBeenCalled();
  });

  it('a reopened window gets its own stream', async () => {
    const e = await loadMain(true);
    e.windows[0].emit('closed');
    e.app.emit('activate');
    await new Promise((r) => setTimeout(r, 20));
    expect(e.windows).toHaveLength(2);
    e.windows[0].webContents.emit('did-finish-load'); // the closed one: ignored
    expect(e.channelsMade).toHaveLength(0);
    e.windows[1].webContents.emit('did-finish-load');
    expect(e.windows[1].webContents.postMessage).toHaveBeenCalledWith('rank1:event-port', null, [
      e.channelsMade[0]!.port2,
    ]);
  });

  it('stops the engine before quitting', async () => {
    const e = await loadMain(true);
    const event = { preventDefault: vi.fn() };
    e.app.emit('before-quit', event);
    expect(event.preventDefault).toHaveBeenCalled();
    expect(engine.stop).toHaveBeenCalled();
    await new Promise((r) => setTimeout(r, 0));
    expect(e.app.quit).toHaveBeenCalled();
  });
});
