/**
 * The preload (sandboxed, built to CommonJS as dist/main/electron/preload.cjs). It exposes only
 * the typed bridge as `window.rank1`: no ipcRenderer, no Node, no arbitrary channels, no ports.
 *
 * Job events stream from the engine on a MessagePort that main hands over on `channels.eventPort`
 * after every page load and engine restart. A MessagePort cannot cross the context bridge, so the
 * preload keeps it and forwards each event to the callbacks registered with `subscribe`; only
 * the newest port is live (older ones are closed, and anything still arriving on them ignored).
 * Main's own notices (`engine.restarted`, crash failures) still come as IPC batches.
 */
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';
import { listeners } from '../common/listeners.js';
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

/** `subscribe` callbacks: every event, from the port or main, goes to each of them. */
const subscribers = listeners<unknown>((err) => console.error('rank1: an event listener failed:', err));

function deliver(e: unknown): void {
  // Service events only: an object with a string `type` (never the MessageEvent or its ports).
  if (typeof e !== 'object' || e === null || typeof (e as { type?: unknown }).type !== 'string') return;
  subscribers.emit(e);
}

/** The live event port; held here, never exposed to the page. */
let eventPort: MessagePort | null = null;

ipcRenderer.on(channels.eventPort, (event: IpcRendererEvent) => {
  const port = event.ports?.[0];
  if (!port) return;
  const stale = eventPort;
  eventPort = port;
  stale?.close();
  port.addEventListener('message', (m: MessageEvent) => {
    if (port === eventPort) deliver(m.data); // a stale port's late events are ignored
  });
  port.start();
});

ipcRenderer.on(channels.events, (_e: IpcRendererEvent, batch: unknown) => {
  if (!Array.isArray(batch)) return;
  for (const e of batch) deliver(e);
});

const bridge: Rank1Bridge = {
  async call(op, args) {
    await pendingGrants;
    const reply = (await ipcRenderer.invoke(channels.call, { op: String(op), args })) as CallReply;
    if (reply.ok) return reply.result;
    // A plain shape, not an Error: only an Error's message would survive the context bridge.
    throw { name: 'ServiceError', ...reply.error };
  },
  subscribe(listener) {
    if (typeof listener !== 'function') throw new TypeError('subscribe needs a function.');
    // A fresh wrapper per call, so subscribing the same function twice needs two unsubscribes.
    const fn = (e: unknown) => listener(e);
    return subscribers.add(fn);
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
