import { EventEmitter } from 'node:events';
import { beforeEach, describe, expect, it, vi } from 'vitest';

/** Enough of Electron for main.ts to run its wiring in Node. */
function fakeElectron(lock: boolean) {
  const app = Object.assign(new EventEmitter(), {
    enableSandbox: vi.fn(),
    setName: vi.fn(),
    setPath: vi.fn(),
    getPath: vi.fn(() => '/tmp/rank1-main-test-userdata'),
    getAppPath: vi.fn(() => '/app'),
    getVersion: vi.fn(() => '0.1.0'),
    isPackaged: false,
    isReady: vi.fn(() => true),
    requestSingleInstanceLock: vi.fn(() => lock),
    quit: vi.fn(),
    whenReady: vi.fn(() => Promise.resolve()),
  });
  const windows: any[] = [];
  class BrowserWindow extends EventEmitter {
    webContents = Object.assign(new EventEmitter(), {
      send: vi.fn(),
      mainFrame: { url: 'app://rank1/index.html', parent: null },
    });
    loadURL = vi.fn(async () => {});
    show = vi.fn();
    maximize = vi.fn();
    isDestroyed = () => false;
    getNormalBounds = () => ({ x: 0, y: 0, width: 1280, height: 820 });
    isMaximized = () => false;
    constructor(readonly options: any) {
      super();
      windows.push(this);
    }
  }
  const session = {
    defaultSession: { setPermissionRequestHandler: vi.fn(), setPermissionCheckHandler: vi.fn() },
  };
  return {
    app,
    BrowserWindow,
    windows,
    session,
    protocol: { registerSchemesAsPrivileged: vi.fn(), handle: vi.fn() },
    ipcMain: { handle: vi.fn() },
    Menu: { setApplicationMenu: vi.fn(), buildFromTemplate: vi.fn((t: unknown) => t) },
    dialog: { showOpenDialog: vi.fn(), showSaveDialog: vi.fn(), showMessageBox: vi.fn() },
    screen: { getAllDisplays: () => [{ workArea: { x: 0, y: 0, width: 1920, height: 1080 } }] },
    shell: { openExternal: vi.fn() },
  };
}

const engine = {
  call: vi.fn(),
  subscribe: vi.fn(() => () => {}),
  grant: vi.fn(),
  stop: vi.fn(async () => {}),
};

async function loadMain(lock: boolean) {
  vi.resetModules();
  const e = fakeElectron(lock);
  vi.doMock('electron', () => e);
  vi.doMock('../../src-main/electron/engine.js', () => ({ startEngine: vi.fn(() => engine) }));
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
