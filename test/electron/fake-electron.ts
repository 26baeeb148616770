/**
 * Enough of Electron's main-process API for main.ts to run its wiring in Node (main.test.ts,
 * event-stream.test.ts): the app, a BrowserWindow that records itself, and the modules main.ts only
 * calls. Each test adds what it needs on top (message ports, utility processes, the preload side).
 */
import { EventEmitter } from 'node:events';
import { vi } from 'vitest';

export interface FakeMainOptions {
  /** What requestSingleInstanceLock answers (false: a second instance, which quits). */
  lock?: boolean;
  /** app.getPath's answer. */
  userData: string;
  /** Each window created is pushed here. */
  windows: any[];
  /** What webContents.send and .postMessage do besides being recorded (default: nothing). */
  send?: (channel: string, payload: unknown) => void;
  postMessage?: (channel: string, payload: unknown, ports?: unknown[]) => void;
}

export function fakeElectronMain({
  lock = true,
  userData,
  windows,
  send = () => {},
  postMessage = () => {},
}: FakeMainOptions) {
  const app = Object.assign(new EventEmitter(), {
    enableSandbox: vi.fn(),
    setName: vi.fn(),
    setPath: vi.fn(),
    getPath: vi.fn(() => userData),
    getAppPath: vi.fn(() => '/app'),
    getVersion: vi.fn(() => '0.1.0'),
    isPackaged: false,
    isReady: vi.fn(() => true),
    requestSingleInstanceLock: vi.fn(() => lock),
    quit: vi.fn(),
    whenReady: vi.fn(() => Promise.resolve()),
  });
  class BrowserWindow extends EventEmitter {
    webContents = Object.assign(new EventEmitter(), {
      send: vi.fn((channel: string, payload: unknown) => send(channel, payload)),
      postMessage: vi.fn((channel: string, payload: unknown, ports?: unknown[]) =>
        postMessage(channel, payload, ports),
      ),
      isDestroyed: () => false,
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
  return {
    app,
    BrowserWindow,
    session: { defaultSession: { setPermissionRequestHandler: vi.fn(), setPermissionCheckHandler: vi.fn() } },
    protocol: { registerSchemesAsPrivileged: vi.fn(), handle: vi.fn() },
    ipcMain: { handle: vi.fn() },
    Menu: { setApplicationMenu: vi.fn(), buildFromTemplate: vi.fn((t: unknown) => t) },
    dialog: { showOpenDialog: vi.fn(), showSaveDialog: vi.fn(), showMessageBox: vi.fn() },
    screen: { getAllDisplays: () => [{ workArea: { x: 0, y: 0, width: 1920, height: 1080 } }] },
    shell: { openExternal: vi.fn() },
  };
}
