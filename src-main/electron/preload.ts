/**
 * The preload (sandboxed, built to CommonJS as dist/main/electron/preload.cjs). It exposes only
 * the typed bridge as `window.rank1`: no ipcRenderer, no Node, no arbitrary channels.
 */
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';
import { channels, type CallReply, type MenuAction, type Rank1Bridge } from './channels.js';

/** Grants of dropped paths still on their way to main; a call waits for them so it is not refused. */
let pendingGrants: Promise<unknown> = Promise.resolve();

function listen<T>(channel: string, fn: (payload: T) => void): () => void {
  const handler = (_e: IpcRendererEvent, payload: T) => fn(payload);
  ipcRenderer.on(channel, handler);
  return () => {
    ipcRenderer.removeListener(channel, handler);
  };
}

const bridge: Rank1Bridge = {
  async call(op, args) {
    await pendingGrants;
    const reply = (await ipcRenderer.invoke(channels.call, { op: String(op), args })) as CallReply;
    if (reply.ok) return reply.result;
    // A plain shape, not an Error: only an Error's message would survive the context bridge.
    throw { name: 'ServiceError', ...reply.error };
  },
  subscribe(listener) {
    return listen<unknown[]>(channels.events, (batch) => {
      if (!Array.isArray(batch)) return;
      for (const e of batch) listener(e);
    });
  },
  onMenu(listener) {
    return listen<MenuAction>(channels.menu, (a) => listener(a));
  },
  pathForFile(file) {
    const path = webUtils.getPathForFile(file);
    if (!path) return '';
    pendingGrants = pendingGrants.then(() => ipcRenderer.invoke(channels.grantDrop, path)).catch(() => false);
    return path;
  },
  pickFolder: () => ipcRenderer.invoke(channels.pickFolder) as Promise<string | null>,
  pickFiles: () => ipcRenderer.invoke(channels.pickFiles) as Promise<string[]>,
  pickSave: (defaultName) => ipcRenderer.invoke(channels.pickSave, defaultName) as Promise<string | null>,
};

contextBridge.exposeInMainWorld('rank1', bridge);
