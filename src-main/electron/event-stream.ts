/**
 * Job events stream from the engine straight to the renderer over a MessagePort pair, past the
 * main process: main creates a MessageChannelMain, transfers one end to the utility process
 * (`event-port`, see transports/engine-port.ts) and the other to the window's preload, which keeps
 * it and forwards each event to the callbacks registered with `window.rank1.subscribe`. A fresh
 * pair is wired after every page load (first load, reload, a reopened window) and after every
 * engine restart; the old ends are closed and ignored. Calls stay on the checked ipcMain path.
 */
import { MessageChannelMain, type WebContents } from 'electron';
import { channels } from './channels.js';
import { isAppUrl } from './policy.js';

/** The part of the engine host that takes the engine's end (EngineProcess.connectEvents). */
export interface EventStreamEngine {
  connectEvents(port: unknown): boolean;
}

type Contents = Pick<WebContents, 'postMessage' | 'isDestroyed' | 'mainFrame'>;

/** Wire a new pair between the engine and `contents`; false (nothing sent) when either is not there. */
export function connectEventStream(
  engine: EventStreamEngine,
  contents: Contents | null | undefined,
): boolean {
  // Only our own page gets a port: never a page that somehow navigated elsewhere.
  if (!contents || contents.isDestroyed() || !isAppUrl(contents.mainFrame?.url ?? '')) return false;
  const { port1, port2 } = new MessageChannelMain();
  if (!engine.connectEvents(port1)) {
    port1.close();
    port2.close();
    return false;
  }
  contents.postMessage(channels.eventPort, null, [port2]);
  return true;
}
