/**
 * Electron main: one window showing the renderer from app://, the engine in a utility process,
 * the IPC bridge for calls, and the MessagePort pair on which job events stream from the engine
 * to the renderer (event-stream.ts). Security decisions live in security.ts, ipc.ts,
 * path-grants.ts and app-protocol.ts; this file wires them up.
 */
import { app, BrowserWindow, dialog, ipcMain, Menu, protocol, screen, session } from 'electron';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EngineProcess } from '../transports/process-host.js';
import { serveApp } from './app-protocol.js';
import { channels, type MenuAction } from './channels.js';
import { startEngine } from './engine.js';
import { EventBatcher } from './event-batcher.js';
import { connectEventStream } from './event-stream.js';
import { createIpcHandlers, grantPath, registerIpc } from './ipc.js';
import { menuTemplate } from './menu.js';
import { PathGrants } from './path-grants.js';
import {
  APP_ENTRY,
  APP_SCHEME,
  hardenContents,
  permissionCheckHandler,
  permissionRequestHandler,
  windowOptions,
} from './security.js';
import { loadWindowState, saveWindowState, type WindowState } from './window-state.js';

const APP_NAME = 'Rank-1 Studio';

// Must happen before `ready`: app:// behaves like https (standard, secure origin, fetch).
protocol.registerSchemesAsPrivileged([
  {
    scheme: APP_SCHEME,
    privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true, codeCache: true },
  },
]);
app.enableSandbox();
app.setName(APP_NAME);
// Tests run against a throwaway profile.
if (process.env.RANK1_USER_DATA) app.setPath('userData', process.env.RANK1_USER_DATA);

export const preloadPath = (): string => fileURLToPath(new URL('./preload.cjs', import.meta.url));
export const rendererRoot = (): string => join(app.getAppPath(), 'dist', 'renderer');

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  run();
}

function run(): void {
  let win: BrowserWindow | null = null;
  let engine: EngineProcess | undefined;
  let quitting = false;
  const grants = new PathGrants();
  const stateFile = () => join(app.getPath('userData'), 'window-state.json');
  const batcher = new EventBatcher((batch) => {
    if (win && !win.isDestroyed()) win.webContents.send(channels.events, batch);
  });
  const sendMenu = (a: MenuAction) => win?.webContents.send(channels.menu, a);
  /** A fresh engine → renderer event port pair (after each page load and engine restart). */
  const wireEvents = () => {
    if (engine && win && !win.isDestroyed()) connectEventStream(engine, win.webContents);
  };

  app.on('second-instance', () => {
    if (!win) return;
    if (win.isMinimized()) win.restore();
    win.focus();
  });
  app.on('web-contents-created', (_e, contents) => hardenContents(contents));
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  app.on('activate', () => {
    if (!win && app.isReady()) void createWindow();
  });
  app.on('before-quit', (event) => {
    if (quitting || !engine) return;
    // Let the engine dispose cleanly (it kills itself after a timeout), then quit for real.
    event.preventDefault();
    quitting = true;
    batcher.flush();
    void engine.stop().finally(() => app.quit());
  });

  async function pick(opts: Electron.OpenDialogOptions): Promise<string | null> {
    if (!win) return null;
    const r = await dialog.showOpenDialog(win, opts);
    if (r.canceled || !r.filePaths[0] || !engine) return null;
    return grantPath({ grants, engine }, r.filePaths[0]);
  }

  async function createWindow(): Promise<void> {
    const areas = screen.getAllDisplays().map((d) => d.workArea);
    const state = await loadWindowState(stateFile(), areas);
    const { maximized, ...bounds } = state;
    const w = new BrowserWindow(windowOptions(preloadPath(), bounds));
    win = w;
    if (maximized) w.maximize();
    w.once('ready-to-show', () => w.show());

    let saveTimer: ReturnType<typeof setTimeout> | undefined;
    const current = (): WindowState => ({ ...w.getNormalBounds(), maximized: w.isMaximized() });
    const save = (s: WindowState) =>
      saveWindowState(stateFile(), s).catch((err: unknown) =>
        console.error('could not save window state:', err),
      );
    const saveSoon = () => {
      clearTimeout(saveTimer);
      saveTimer = setTimeout(() => void save(current()), 500);
    };
    w.on('resize', saveSoon);
    w.on('move', saveSoon);
    w.on('close', () => {
      clearTimeout(saveTimer);
      void save(current());
    });
    w.on('closed', () => {
      if (win === w) win = null;
    });
    w.webContents.on('render-process-gone', (_e, d) => console.error(`renderer gone (${d.reason})`));
    // Every load (the first, a reload, a reopened window) gets its own live event stream.
    w.webContents.on('did-finish-load', () => {
      if (win === w) wireEvents();
    });
    await w.loadURL(APP_ENTRY);
  }

  void app.whenReady().then(async () => {
    const ses = session.defaultSession;
    ses.setPermissionRequestHandler(permissionRequestHandler);
    ses.setPermissionCheckHandler(permissionCheckHandler);
    protocol.handle(APP_SCHEME, (request) => serveApp(request, rendererRoot()));

    engine = startEngine((reason) => {
      console.warn(`engine ${reason}; restarted`);
      wireEvents(); // the new engine process needs a new pair; the renderer drops the stale port
    });
    // What still reaches main: crash notices (job.failed, engine.restarted) and events the engine
    // sent while it had no event port (no window yet). They go to the renderer over IPC.
    engine.subscribe((e) => batcher.push(e));

    registerIpc(
      ipcMain,
      createIpcHandlers({
        window: () => win,
        engine,
        grants,
        showOpenDialog: (w, o) => dialog.showOpenDialog(w, o),
        showSaveDialog: (w, o) => dialog.showSaveDialog(w, o),
      }),
    );

    Menu.setApplicationMenu(
      Menu.buildFromTemplate(
        menuTemplate(
          {
            importDataset: () =>
              void pick({ title: 'Import a dataset folder', properties: ['openDirectory'] }).then(
                (path) => path && sendMenu({ action: 'import-dataset', path }),
              ),
            openModel: () =>
              void pick({
                title: 'Open a model',
                properties: ['openFile'],
                filters: [{ name: 'Rank-1 model', extensions: ['zip'] }],
              }).then((path) => path && sendMenu({ action: 'open-model', path })),
            exportModel: () => sendMenu({ action: 'export' }),
            about: () =>
              void dialog.showMessageBox({
                type: 'info',
                title: `About ${APP_NAME}`,
                message: `${APP_NAME} ${app.getVersion()}`,
                detail: `Uncertainty-aware rank-1 Bayesian image classifiers, trained locally.\nElectron ${process.versions.electron} · Chromium ${process.versions.chrome} · Node ${process.versions.node}`,
              }),
          },
          { platform: process.platform, dev: !app.isPackaged, appName: APP_NAME },
        ),
      ),
    );

    await createWindow();
  });
}
