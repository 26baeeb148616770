/**
 * The browser's (and Node's) client for `rank1 serve`: a ServiceHandler over one WebSocket.
 * Browser-safe (global WebSocket; Node passes the `ws` package's class). Reconnects with
 * backoff; nothing hangs: calls in flight when the socket drops reject with a typed error, and
 * jobs that were running get `job.failed` ('engine-crashed'), since their events cannot arrive.
 *
 *   const client = new ServiceClient(connectWebSocket(location.href, token));
 */
import { listeners, ServiceError, type ServiceEvent, type ServiceHandler } from '../contract.js';
import { RunningJobs, toServiceError } from './shared.js';

/** The part of the WebSocket API used here (the DOM's and `ws`'s both fit). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onerror: ((ev: any) => void) | null;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export type ConnectionState = 'connecting' | 'open' | 'waiting' | 'closed';

export interface WebSocketClientOptions {
  /** Default: the global WebSocket (browsers, Node ≥ 22). */
  WebSocket?: WebSocketConstructor;
  /** Reconnect backoff: first wait and cap, ms (defaults 250 and 10 000). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Refuse to send a request larger than this (the server closes the socket on it). Default 64 MiB. */
  maxMessageBytes?: number;
}

export interface WebSocketConnection extends ServiceHandler {
  readonly state: ConnectionState;
  onState(fn: (s: ConnectionState) => void): () => void;
  /** Close for good: pending calls reject with 'failed', no reconnect. */
  close(): void;
}

const OPEN = 1;

/** `url` may be the page URL (http[s]://host:port/…) or the socket URL (ws[s]://host:port/ws). */
export function webSocketUrl(url: string, token?: string): string {
  const u = new URL(url);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  const t = token ?? u.searchParams.get('token') ?? undefined;
  u.pathname = '/ws';
  u.search = '';
  u.hash = '';
  if (t) u.searchParams.set('token', t);
  return u.toString();
}

export function connectWebSocket(
  url: string,
  token?: string,
  opts: WebSocketClientOptions = {},
): WebSocketConnection {
  const Ctor = opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!Ctor)
    throw new Error('connectWebSocket: no WebSocket implementation; pass one as the WebSocket option.');
  const target = webSocketUrl(url, token);
  const minBackoff = opts.minBackoffMs ?? 250;
  const maxBackoff = opts.maxBackoffMs ?? 10_000;
  const maxBytes = opts.maxMessageBytes ?? 64 * 1024 * 1024;

  const events = listeners<ServiceEvent>((err) => console.error('service listener failed:', err));
  const stateListeners = listeners<ConnectionState>((err) =>
    console.error('connection listener failed:', err),
  );
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void; op: string }>();
  /** Requests waiting for the socket to open. */
  let queue: { id: number; text: string }[] = [];
  const running = new RunningJobs();
  let nextId = 1;
  let state: ConnectionState = 'connecting';
  let socket: WebSocketLike | undefined;
  let attempt = 0;
  let everOpened = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const setState = (s: ConnectionState) => {
    if (s === state) return;
    state = s;
    stateListeners.emit(s);
  };
  const emit = (e: ServiceEvent) => events.emit(e);

  const onMessage = (data: unknown) => {
    let msg: any;
    try {
      msg = JSON.parse(typeof data === 'string' ? data : String(data));
    } catch {
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    if (msg.event && typeof msg.event === 'object') {
      running.track(msg.event as ServiceEvent);
      emit(msg.event as ServiceEvent);
      return;
    }
    const p = typeof msg.id === 'number' ? pending.get(msg.id) : undefined;
    if (!p) {
      if (msg.ok === false) console.warn('service error not tied to a call:', msg.error);
      return;
    }
    pending.delete(msg.id);
    if (msg.ok === true) {
      running.started(p.op, msg.result);
      p.resolve(msg.result);
    } else p.reject(toServiceError(msg.error));
  };

  const dropped = (code: number, reason: string, byUs: boolean) => {
    const error = byUs
      ? new ServiceError('failed', 'The connection to the service was closed.')
      : code === 1009
        ? new ServiceError(
            'too-large',
            `The service refused a message as too large (${reason || 'over its size limit'}); send less at once.`,
          )
        : new ServiceError(
            'engine-crashed',
            everOpened
              ? `Lost the connection to the Rank-1 service (code ${code}); reconnecting — try again in a moment. If it does not come back, start \`rank1 serve\` again.`
              : `Cannot reach the Rank-1 service at ${new URL(target).host} (code ${code}). Is \`rank1 serve\` running, and is the link (with its token) current?`,
          );
    for (const [id, p] of pending) {
      pending.delete(id);
      p.reject(error);
    }
    queue = [];
    if (!byUs) {
      for (const [jobId, kind] of running.drain()) {
        emit({
          type: 'job.failed',
          jobId,
          kind,
          error: {
            code: 'engine-crashed',
            message: `Lost the connection to the service while this ${kind} was running; check the jobs list once it is back.`,
          },
        });
      }
    }
  };

  const open = () => {
    timer = undefined;
    setState('connecting');
    let ws: WebSocketLike;
    try {
      ws = new Ctor(target);
    } catch (err) {
      dropped(1006, String(err), false);
      return scheduleReconnect();
    }
    socket = ws;
    ws.onopen = () => {
      const reconnected = everOpened;
      everOpened = true;
      attempt = 0;
      setState('open');
      for (const q of queue.splice(0)) ws.send(q.text);
      // Events were missed while away: tell listeners to refresh what they show.
      if (reconnected)
        emit({ type: 'engine.restarted', reason: 'The connection to the service was lost and is back.' });
    };
    ws.onmessage = (ev) => onMessage(ev.data);
    ws.onerror = () => {};
    ws.onclose = (ev) => {
      if (socket !== ws) return;
      socket = undefined;
      const byUs = state === 'closed';
      dropped(ev.code, ev.reason, byUs);
      if (!byUs) scheduleReconnect();
    };
  };

  const scheduleReconnect = () => {
    if (state === 'closed') return;
    setState('waiting');
    const wait = Math.min(maxBackoff, minBackoff * 2 ** attempt++);
    timer = setTimeout(open, wait * (0.75 + Math.random() * 0.5));
  };

  open();

  return {
    get state() {
      return state;
    },
    onState(fn) {
      return stateListeners.add(fn);
    },
    call(op, args) {
      if (state === 'closed')
        return Promise.reject(new ServiceError('failed', 'The connection to the service was closed.'));
      if (state === 'waiting')
        return Promise.reject(
          new ServiceError(
            'engine-crashed',
            'Not connected to the Rank-1 service; reconnecting — try again in a moment.',
          ),
        );
      const id = nextId++;
      let text: string;
      try {
        text = JSON.stringify({ id, op, args: args ?? {} });
      } catch (err) {
        return Promise.reject(
          new ServiceError(
            'bad-request',
            `${String(op).slice(0, 100)}: arguments must be plain JSON data (${(err as Error).message}).`,
          ),
        );
      }
      if (text.length > maxBytes / 3 && new TextEncoder().encode(text).length > maxBytes) {
        return Promise.reject(
          new ServiceError(
            'too-large',
            `${String(op).slice(0, 100)}: the request is larger than ${Math.round(maxBytes / 2 ** 20)} MB; send fewer or smaller files at once.`,
          ),
        );
      }
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject, op: String(op) });
        if (socket && socket.readyState === OPEN) socket.send(text);
        else queue.push({ id, text });
      });
    },
    subscribe(listener) {
      return events.add(listener);
    },
    close() {
      if (state === 'closed') return;
      setState('closed');
      if (timer) clearTimeout(timer);
      const ws = socket;
      socket = undefined;
      dropped(1000, '', true);
      ws?.close(1000, 'client closed');
    },
  };
}
