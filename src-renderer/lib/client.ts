/**
 * Picks the transport: Electron's preload bridge (`window.rank1`) when present, otherwise a
 * WebSocket to the `rank1 serve` that served this page (token from `?token=…`). In a dev build
 * `?fake` swaps in the in-memory service so the UI runs with no backend at all.
 */
import { ServiceClient, ServiceError, type ServiceHandler } from '../../src-main/contract.js';
import { connectWebSocket } from '../../src-main/transports/ws-client.js';

/** What the Electron preload exposes (written by the Electron engineer). */
export interface Rank1Bridge extends ServiceHandler {
  pathForFile(file: File): string;
  pickFolder(): Promise<string | null>;
  pickFiles(): Promise<string[]>;
}

declare global {
  interface Window {
    rank1?: Rank1Bridge;
  }
}

/** What the UI may do beyond calling the service; absent members mean "ask the user to type". */
export interface Platform {
  kind: 'electron' | 'browser' | 'fake';
  pathForFile?: (file: File) => string;
  pickFolder?: () => Promise<string | null>;
  pickFiles?: () => Promise<string[]>;
}

export interface Connection {
  client: ServiceClient;
  platform: Platform;
}

export function wsUrl(loc: { protocol: string; host: string }): string {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/ws`;
}

export function tokenFrom(search: string): string | null {
  const t = new URLSearchParams(search).get('token');
  return t && t.length > 0 ? t : null;
}

export function electronPlatform(bridge: Rank1Bridge): Platform {
  return {
    kind: 'electron',
    pathForFile: (f) => bridge.pathForFile(f),
    pickFolder: () => bridge.pickFolder(),
    pickFiles: () => bridge.pickFiles(),
  };
}

export async function connect(win: Window = window): Promise<Connection> {
  const bridge = win.rank1;
  if (bridge && typeof bridge.call === 'function') {
    return { client: new ServiceClient(bridge), platform: electronPlatform(bridge) };
  }
  const params = new URLSearchParams(win.location.search);
  if (import.meta.env.DEV && params.has('fake')) {
    const { FakeService } = await import('./fake-service.js');
    return { client: new ServiceClient(new FakeService({ stepMs: 30 })), platform: { kind: 'fake' } };
  }
  const token = tokenFrom(win.location.search);
  if (!token) {
    throw new ServiceError(
      'forbidden',
      'This page has no access token. Open the exact link that `rank1 serve` printed (it ends in ?token=…).',
    );
  }
  const handler = connectWebSocket(wsUrl(win.location), token);
  return { client: new ServiceClient(handler), platform: { kind: 'browser' } };
}

/** A message for the user from anything thrown by a call: the service's own words when it has them. */
export function errorText(err: unknown): string {
  if (err instanceof ServiceError) return err.message;
  if (err && typeof err === 'object' && 'message' in err && typeof (err as Error).message === 'string') {
    return (err as Error).message;
  }
  return String(err);
}
