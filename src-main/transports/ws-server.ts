/**
 * `rank1 serve`'s front door: one HTTP server on loopback that serves the built renderer and a
 * WebSocket at /ws carrying contract Requests/Responses and pushed events. Everything that could
 * reach the engine is gated: a random token (constant-time compare), the server's own Origin only,
 * a Host check against DNS rebinding, a message size cap, and only contract operation names.
 * Grants never come over the wire.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP, type Socket } from 'node:net';
import { extname, resolve, sep } from 'node:path';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import {
  operations,
  type Response,
  type ServiceErrorShape,
  type ServiceEvent,
  type ServiceHandler,
} from '../contract.js';
import { toErrorShape } from './shared.js';
import { createRedactor, type RedactOptions } from './ws-redact.js';

export interface ServerOptions {
  /** The service (usually the engine process); `grant` is used by the caller only, never over the wire. */
  handler: ServiceHandler & { grant?(p: string): void };
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** The built renderer (dist/renderer); without it, / answers with a hint to build it. */
  staticDir?: string;
  /** Default: 32 random bytes, base64url. */
  token?: string;
  /** Largest WebSocket message accepted, bytes; bigger ones close the socket with 1009. Default 64 MiB. */
  maxMessageBytes?: number;
  /**
   * Which paths error texts sent to a client may name (the granted folders) and which are the
   * app's own (data home; temp and the app itself always). See ws-redact.ts.
   */
  redact?: RedactOptions;
}

export interface RunningServer {
  /** http://HOST:PORT/?token=… — open it in a browser. */
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const mime: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

const loopback = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);
const wildcard = new Set(['0.0.0.0', '::', '[::]']);
/** Events the server may skip for a client that is not reading (the next one supersedes them). */
const SLOW_CLIENT_BYTES = 8 * 1024 * 1024;

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const host = opts.host ?? '127.0.0.1';
  const token = opts.token ?? randomBytes(32).toString('base64url');
  const tokenHash = sha256(token);
  const maxMessageBytes = opts.maxMessageBytes ?? 64 * 1024 * 1024;
  const redactor = createRedactor(opts.redact);
  const root = opts.staticDir
    ? await fs.realpath(resolve(opts.staticDir)).catch(() => resolve(opts.staticDir!))
    : undefined;
  let port = opts.port ?? 0;

  const bracket = (h: string) => (isIP(h) === 6 ? `[${h}]` : h);
  /** Host headers (and Origin hosts) that name this server; anything else may be DNS rebinding. */
  const hostAllowed = (hostHeader: string | undefined): boolean => {
    if (!hostHeader) return false;
    let u: URL;
    try {
      u = new URL(`http://${hostHeader}`);
    } catch {
      return false;
    }
    if (Number(u.port || 80) !== port) return false;
    const name = u.hostname;
    if (wildcard.has(host)) return loopback.has(name) || isIP(name.replace(/^\[|\]$/g, '')) !== 0;
    if (loopback.has(host)) return loopback.has(name);
    return name === bracket(host) || name === host;
  };
  const originAllowed = (origin: string | undefined): boolean => {
    if (origin === undefined) return true; // not a browser; the token still decides
    try {
      const u = new URL(origin);
      return u.protocol === 'http:' && u.origin === origin && hostAllowed(u.host);
    } catch {
      return false;
    }
  };

  const securityHeaders = (req: IncomingMessage): Record<string, string> => {
    const wsHost = hostAllowed(req.headers.host)
      ? req.headers.host!
      : `${bracket(wildcard.has(host) ? '127.0.0.1' : host)}:${port}`;
    return {
      'Content-Security-Policy': `default-src 'self'; img-src 'self' data: blob:; connect-src 'self' ws://${wsHost}; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY',
      // The token is in the page URL: never send it to anyone in a Referer.
      'Referrer-Policy': 'no-referrer',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
    };
  };

  const server = createServer((req, res) => {
    void serveStatic(req, res).catch((err) => {
      if (!res.headersSent) plain(res, 500, 'Internal error.', securityHeaders(req));
      else res.destroy(err as Error);
    });
  });

  async function serveStatic(req: IncomingMessage, res: ServerResponse) {
    const headers = securityHeaders(req);
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return plain(res, 405, 'Method not allowed.', { ...headers, Allow: 'GET, HEAD' });
    if (!hostAllowed(req.headers.host)) return plain(res, 403, 'Unknown host.', headers);
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      return plain(res, 400, 'Bad path.', headers);
    }
    if (pathname === '/ws')
      return plain(res, 426, 'This is the WebSocket endpoint.', { ...headers, Upgrade: 'websocket' });
    if (!root)
      return plain(
        res,
        404,
        'The interface is not built; run `npm run build` and start `rank1 serve` again.',
        headers,
      );
    if (pathname.includes('\0') || pathname.split(/[\\/]/).includes('..'))
      return plain(res, 400, 'Bad path.', headers);

    const inside = (p: string) => p === root || p.startsWith(root + sep);
    let file = resolve(root, '.' + pathname);
    if (!inside(file)) return plain(res, 400, 'Bad path.', headers);
    let stat = await fs.stat(file).catch(() => undefined);
    if (stat?.isDirectory()) {
      file = resolve(file, 'index.html');
      stat = await fs.stat(file).catch(() => undefined);
    }
    if (!stat?.isFile()) {
      // SPA fallback: a route like /models/abc is the app; a missing asset is a 404.
      if (extname(pathname)) return plain(res, 404, 'Not found.', headers);
      file = resolve(root, 'index.html');
      stat = await fs.stat(file).catch(() => undefined);
      if (!stat?.isFile()) return plain(res, 404, 'Not found.', headers);
    }
    // A symlink must not lead out of the renderer folder.
    const real = await fs.realpath(file);
    if (!inside(real)) return plain(res, 404, 'Not found.', headers);
    const ext = extname(file).toLowerCase();
    res.writeHead(200, {
      ...headers,
      'Content-Type': mime[ext] ?? 'application/octet-stream',
      'Content-Length': String(stat.size),
      'Cache-Control': pathname.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    if (req.method === 'HEAD') return res.end();
    createReadStream(real)
      .on('error', (e) => res.destroy(e))
      .pipe(res);
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: maxMessageBytes, perMessageDeflate: false });

  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => {});
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://x');
    } catch {
      return refuse(socket, 400, 'Bad request.');
    }
    if (url.pathname !== '/ws') return refuse(socket, 404, 'Not found.');
    if (!hostAllowed(req.headers.host)) return refuse(socket, 403, 'Unknown host.');
    if (!originAllowed(req.headers.origin)) return refuse(socket, 403, 'Foreign origin.');
    const auth = req.headers.authorization;
    const given = url.searchParams.get('token') ?? (auth?.startsWith('Bearer ') ? auth.slice(7) : null);
    if (!given) return refuse(socket, 401, 'Missing token.');
    if (!timingSafeEqual(sha256(given), tokenHash)) return refuse(socket, 401, 'Wrong token.');
    wss.handleUpgrade(req, socket, head, (ws) => connection(ws));
  });

  function connection(ws: WebSocket) {
    // ws closes an oversized message with a bare 1009; say why, so the client can tell the user.
    const close = ws.close.bind(ws);
    ws.close = (code?: number, reason?: string | Buffer) =>
      close(
        code,
        code === 1009 && !reason ? `Message too large: the limit is ${maxMessageBytes} bytes.` : reason,
      );
    const send = (msg: Response | { event: ServiceEvent }) => {
      if (ws.readyState !== ws.OPEN) return;
      let text: string;
      try {
        // Error and reason texts only: the app's paths and stack traces never reach a browser.
        text = JSON.stringify(redactor.deep(msg));
      } catch (err) {
        if (!('id' in msg)) return;
        text = JSON.stringify({
          id: msg.id,
          ok: false,
          error: {
            code: 'failed',
            message: redactor.text(`The result could not be sent: ${toErrorShape(err).message}`),
          },
        });
      }
      ws.send(text);
    };
    const fail = (id: number, error: ServiceErrorShape) => send({ id, ok: false, error });
    const off = opts.handler.subscribe((event) => {
      if (event.type === 'job.progress' && ws.bufferedAmount > SLOW_CLIENT_BYTES) return;
      send({ event });
    });
    // ws closes with 1009 on an oversized message and reports it here; nothing else to do.
    ws.on('error', () => {});
    ws.on('close', off);
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) return fail(0, { code: 'bad-request', message: 'Send requests as JSON text.' });
      let req: unknown;
      try {
        req = JSON.parse(rawToString(data));
      } catch (err) {
        return fail(0, {
          code: 'bad-request',
          message: `Malformed JSON: ${(err as Error).message.slice(0, 200)}`,
        });
      }
      if (typeof req !== 'object' || req === null || Array.isArray(req))
        return fail(0, { code: 'bad-request', message: 'A request is an object { id, op, args }.' });
      const { id, op, args } = req as Record<string, unknown>;
      if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1)
        return fail(0, {
          code: 'bad-request',
          message: 'A request needs a positive integer "id".',
          field: 'id',
        });
      if (typeof op !== 'string' || !Object.prototype.hasOwnProperty.call(operations, op)) {
        return fail(id, {
          code: 'unknown-operation',
          message: `Unknown operation "${String(op).slice(0, 100)}".`,
        });
      }
      let result: Promise<unknown>;
      try {
        result = Promise.resolve(opts.handler.call(op, args));
      } catch (err) {
        result = Promise.reject(err);
      }
      result.then(
        (r) => send({ id, ok: true, result: r }),
        (err) => fail(id, toErrorShape(err)),
      );
    });
  }

  await new Promise<void>((ok, ko) => {
    server.once('error', ko);
    server.listen(port, host, () => {
      server.off('error', ko);
      ok();
    });
  });
  const addr = server.address();
  port = typeof addr === 'object' && addr ? addr.port : port;
  const urlHost = bracket(wildcard.has(host) ? '127.0.0.1' : host);

  return {
    url: `http://${urlHost}:${port}/?token=${encodeURIComponent(token)}`,
    port,
    token,
    async close() {
      for (const ws of wss.clients) ws.close(1001, 'server shutting down');
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
    },
  };
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function rawToString(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

function plain(res: ServerResponse, status: number, body: string, headers: Record<string, string>) {
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    'Cache-Control': 'no-store',
  });
  res.end(body);
}

function refuse(socket: Socket, status: number, body: string) {
  const text =
    { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found' }[status] ?? 'Error';
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
