/**
 * The IPC surface main offers the preload, with every check in front of the engine: the sender
 * frame (our window's main frame, app:// origin), the arguments (contract schemas), and paths
 * (only those the user granted by a dialog or a drop). Dependencies are injected so the handlers
 * are tested with fakes.
 */
import { realpath, stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import type {
  BrowserWindow,
  IpcMain,
  IpcMainInvokeEvent,
  OpenDialogOptions,
  SaveDialogOptions,
} from 'electron';
import { parseArgs, ServiceError } from '../contract.js';
import { toErrorShape } from '../transports/shared.js';
import { channels, type CallReply } from './channels.js';
import { assertGranted, type PathGrants } from './path-grants.js';
import { checkSender, type SenderEvent } from './policy.js';

export interface IpcDeps {
  window(): BrowserWindow | null;
  engine: { call(op: string, args: unknown): Promise<unknown>; grant(path: string): void };
  grants: PathGrants;
  showOpenDialog(
    win: BrowserWindow,
    opts: OpenDialogOptions,
  ): Promise<{ canceled: boolean; filePaths: string[] }>;
  showSaveDialog(
    win: BrowserWindow,
    opts: SaveDialogOptions,
  ): Promise<{ canceled: boolean; filePath?: string }>;
}

export const imageExtensions = [
  'png',
  'jpg',
  'jpeg',
  'webp',
  'bmp',
  'gif',
  'tif',
  'tiff',
  'heic',
  'heif',
  'tga',
];

/** Grant a path in main and in the engine (which keeps it across restarts). */
export async function grantPath(deps: Pick<IpcDeps, 'grants' | 'engine'>, path: string): Promise<string> {
  const granted = deps.grants.grant(path);
  deps.engine.grant(granted);
  // Grant the real path too, so a symlinked folder resolves to something granted on both sides.
  const real = await realpath(granted).catch(() => granted);
  if (real !== granted) deps.engine.grant(deps.grants.grant(real));
  return granted;
}

const forbidden = (what: string) =>
  new ServiceError('forbidden', `${what}: refused, the request did not come from the Rank-1 Studio window.`);

export function createIpcHandlers(deps: IpcDeps) {
  const win = (event: SenderEvent): BrowserWindow => {
    const w = deps.window();
    if (!w || !checkSender(event, w)) throw forbidden('IPC');
    return w;
  };

  return {
    async call(event: SenderEvent, req: unknown): Promise<CallReply> {
      try {
        win(event);
        if (typeof req !== 'object' || req === null || typeof (req as { op?: unknown }).op !== 'string') {
          throw new ServiceError('bad-request', 'A call needs an operation name.');
        }
        const { op, args } = req as { op: string; args: unknown };
        parseArgs(op, args); // refuse malformed calls here, before they cross another process
        assertGranted(op, args, deps.grants);
        return { ok: true, result: await deps.engine.call(op, args) };
      } catch (err) {
        return { ok: false, error: toErrorShape(err) };
      }
    },

    async pickFolder(event: SenderEvent): Promise<string | null> {
      const w = win(event);
      const r = await deps.showOpenDialog(w, {
        title: 'Choose a folder',
        properties: ['openDirectory', 'createDirectory'],
      });
      if (r.canceled || !r.filePaths[0]) return null;
      return grantPath(deps, r.filePaths[0]);
    },

    async pickFiles(event: SenderEvent): Promise<string[]> {
      const w = win(event);
      const r = await deps.showOpenDialog(w, {
        title: 'Choose files',
        properties: ['openFile', 'multiSelections'],
        filters: [
          { name: 'Images and models', extensions: [...imageExtensions, 'zip'] },
          { name: 'All files', extensions: ['*'] },
        ],
      });
      if (r.canceled) return [];
      const out: string[] = [];
      for (const p of r.filePaths) out.push(await grantPath(deps, p));
      return out;
    },

    async pickSave(event: SenderEvent, defaultName: unknown): Promise<string | null> {
      const w = win(event);
      const name =
        typeof defaultName === 'string' ? defaultName.replace(/[/\\\0]/g, '_').slice(0, 200) : undefined;
      const r = await deps.showSaveDialog(w, { title: 'Save as', ...(name ? { defaultPath: name } : {}) });
      if (r.canceled || !r.filePath) return null;
      return grantPath(deps, r.filePath);
    },

    /** The preload resolved a dropped File with webUtils; confirm it is a real path, then grant it. */
    async grantDrop(event: SenderEvent, path: unknown): Promise<boolean> {
      win(event);
      if (typeof path !== 'string' || !path || path.length > 4096 || !isAbsolute(path) || path.includes('\0'))
        return false;
      const s = await stat(path).catch(() => null);
      if (!s || (!s.isFile() && !s.isDirectory())) return false;
      await grantPath(deps, path);
      return true;
    },
  };
}

export type IpcHandlers = ReturnType<typeof createIpcHandlers>;

export function registerIpc(ipcMain: Pick<IpcMain, 'handle'>, handlers: IpcHandlers): void {
  ipcMain.handle(channels.call, (e: IpcMainInvokeEvent, req: unknown) => handlers.call(e, req));
  ipcMain.handle(channels.pickFolder, (e: IpcMainInvokeEvent) => handlers.pickFolder(e));
  ipcMain.handle(channels.pickFiles, (e: IpcMainInvokeEvent) => handlers.pickFiles(e));
  ipcMain.handle(channels.pickSave, (e: IpcMainInvokeEvent, name: unknown) => handlers.pickSave(e, name));
  ipcMain.handle(channels.grantDrop, (e: IpcMainInvokeEvent, path: unknown) => handlers.grantDrop(e, path));
}
