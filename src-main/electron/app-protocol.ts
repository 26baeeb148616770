/**
 * The app:// protocol: serves the built renderer (`dist/renderer`) with the security headers, and
 * nothing outside that folder. Pure Node (the handler takes a Fetch Request and returns a Response),
 * so it is tested without Electron; main.ts registers it with `protocol.handle`.
 */
import { readFile, stat } from 'node:fs/promises';
import { extname, isAbsolute, relative, resolve, sep } from 'node:path';
import { APP_HOST, APP_SCHEME, securityHeaders } from './policy.js';

const mimeTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

export function mimeType(file: string): string {
  return mimeTypes[extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * The file under `root` an app:// URL names, or null when it is not ours or would leave `root`
 * (`..`, encoded separators, NUL, absolute tricks). `/` is `index.html`.
 */
export function resolveAppPath(url: string, root: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if (u.protocol !== `${APP_SCHEME}:` || u.host !== APP_HOST || u.username || u.password) return null;
  let pathname: string;
  try {
    pathname = decodeURIComponent(u.pathname);
  } catch {
    return null;
  }
  if (pathname.includes('\0') || pathname.includes('\\')) return null;
  const segments = pathname.split('/').filter((s) => s.length > 0);
  if (segments.some((s) => s === '..' || s === '.' || /^[A-Za-z]:/.test(s))) return null;
  const rel = segments.length === 0 ? 'index.html' : segments.join('/');
  const base = resolve(root);
  const file = resolve(base, rel);
  const back = relative(base, file);
  if (!back || back.startsWith('..') || isAbsolute(back) || back.split(sep).includes('..')) return null;
  return file;
}

function reply(status: number, body: BodyInit | null, contentType = 'text/plain; charset=utf-8'): Response {
  return new Response(body, {
    status,
    headers: { ...securityHeaders(), 'Content-Type': contentType, 'Cache-Control': 'no-cache' },
  });
}

/** Serve one app:// request from `root` (GET/HEAD only). */
export async function serveApp(request: Pick<Request, 'url' | 'method'>, root: string): Promise<Response> {
  if (request.method !== 'GET' && request.method !== 'HEAD') return reply(405, 'Method not allowed');
  const file = resolveAppPath(request.url, root);
  if (!file) return reply(403, 'Forbidden');
  try {
    const s = await stat(file);
    if (!s.isFile()) return reply(404, 'Not found');
    const body = request.method === 'HEAD' ? null : await readFile(file);
    return reply(200, body, mimeType(file));
  } catch {
    return reply(404, 'Not found');
  }
}
