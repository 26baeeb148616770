/**
 * IPC channel names and the shapes that cross them, shared by main and the preload. Imports
 * nothing, so the sandboxed preload bundle stays tiny (no zod, no contract code).
 */
export const channels = {
  /** renderer → main (invoke): `{ op, args }` → `CallReply`. */
  call: 'rank1:call',
  /**
   * main → renderer: a batch of service events (`ServiceEvent[]`) that main itself has to tell:
   * crash notices (`job.failed`, `engine.restarted`) and anything the engine sent while no event
   * port was connected. Engine events normally stream on the event port instead.
   */
  events: 'rank1:events',
  /**
   * main → preload (`webContents.postMessage`): `event.ports[0]` is a MessagePort on which the
   * engine posts one ServiceEvent per message. A new one replaces the old after every page load
   * and engine restart; the preload keeps it (it cannot cross the context bridge).
   */
  eventPort: 'rank1:event-port',
  /** main → renderer: an application-menu action (`MenuAction`). */
  menu: 'rank1:menu',
  /** renderer → main (invoke): folder picker → granted path or null. */
  pickFolder: 'rank1:pick-folder',
  /** renderer → main (invoke): image/model file picker → granted paths. */
  pickFiles: 'rank1:pick-files',
  /** renderer → main (invoke): save dialog → granted path or null. */
  pickSave: 'rank1:pick-save',
  /** preload → main (invoke): a dropped file's real path (from webUtils) to confirm and grant. */
  grantDrop: 'rank1:grant-drop',
} as const;

/** Errors cross IPC as plain shapes: Electron keeps only the message of a thrown Error. */
export type CallReply =
  { ok: true; result: unknown } | { ok: false; error: { code: string; message: string; field?: string } };

export type MenuAction =
  | { action: 'import-dataset'; path: string }
  | { action: 'open-model'; path: string }
  | { action: 'export' }
  | { action: 'about' };

/** What `window.rank1` offers the renderer: the contract's ServiceHandler plus user-granted paths. */
export interface Rank1Bridge {
  call(op: string, args: unknown): Promise<unknown>;
  subscribe(listener: (e: any) => void): () => void;
  onMenu(listener: (a: MenuAction) => void): () => void;
  /** The real path of a dropped File; main is told to grant it (calls wait for that). '' if none. */
  pathForFile(file: File): string;
  pickFolder(): Promise<string | null>;
  pickFiles(): Promise<string[]>;
  pickSave(defaultName?: string): Promise<string | null>;
}
