import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ServiceClient, type ServiceEvent } from '../../src-main/contract.js';
import {
  connectWebSocket,
  webSocketUrl,
  type WebSocketConstructor,
} from '../../src-main/transports/ws-client.js';
import { startServer, type RunningServer } from '../../src-main/transports/ws-server.js';
import { createFakeService, type FakeService } from './fixtures/fake-service.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const WS = WebSocket as unknown as WebSocketConstructor;

/** Raw GET with full control of the path (fetch would normalise `..`). */
function get(port: number, path: string, method = 'GET', headers: Record<string, string> = {}) {
  return new Promise<{
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: string;
  }>((ok, ko) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => ok({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', ko);
    req.end();
  });
}

/** Try a raw upgrade; resolves with the HTTP status of a refusal, or 101 and the open socket. */
function upgrade(url: string, headers: Record<string, string> = {}, maxPayload?: number) {
  return new Promise<{ status: number; ws?: WebSocket; body?: string }>((ok) => {
    const ws = new WebSocket(url, { headers, maxPayload });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => ok({ status: res.statusCode!, body }));
    });
    ws.on('open', () => ok({ status: 101, ws }));
    ws.on('error', () => {});
  });
}

function rawSession(ws: WebSocket) {
  const messages: any[] = [];
  ws.on('message', (d) => messages.push(JSON.parse(String(d))));
  const next = async (pred: (m: any) => boolean) => {
    for (let i = 0; i < 500; i++) {
      const m = messages.find(pred);
      if (m) return m;
      await sleep(10);
    }
    throw new Error('no such message');
  };
  return { messages, next };
}

describe('ws-server + ws-client (fake service)', () => {
  let dir: string;
  let fake: FakeService;
  let server: RunningServer;
  let base: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rank1-ws-'));
    const site = join(dir, 'renderer');
    mkdirSync(join(site, 'assets'), { recursive: true });
    writeFileSync(join(site, 'index.html'), '<!doctype html><title>Rank-1</title>');
    writeFileSync(join(site, 'assets', 'app-123.js'), 'console.log(1)');
    writeFileSync(join(site, 'assets', 'app.css'), 'body{}');
    writeFileSync(join(site, 'assets', 'logo.svg'), '<svg/>');
    writeFileSync(join(dir, 'secret.txt'), 'secret');
    symlinkSync(join(dir, 'secret.txt'), join(site, 'link.txt'));
    fake = createFakeService();
    fake.grant(dir);
    server = await startServer({ handler: fake, staticDir: site, maxMessageBytes: 1024 * 1024 });
    base = `ws://127.0.0.1:${server.port}/ws`;
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints a loopback URL with a long random token', () => {
    expect(server.url).toMatch(
      new RegExp(`^http://127\\.0\\.0\\.1:${server.port}/\\?token=[A-Za-z0-9_-]{40,}$`),
    );
    expect(new URL(server.url).searchParams.get('token')).toBe(server.token);
    expect(webSocketUrl(server.url)).toBe(`${base}?token=${server.token}`);
  });

  it('serves the renderer with MIME types, security headers and an SPA fallback', async () => {
    const index = await get(server.port, '/');
    expect(index.status).toBe(200);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    const csp = String(index.headers['content-security-policy']);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain(`connect-src 'self' ws://127.0.0.1:${server.port}`);
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe/);
    expect(csp).toContain("style-src 'self';");
    expect(csp).not.toMatch(/unsafe-inline/);
    expect(index.headers['x-content-type-options']).toBe('nosniff');
    expect(index.headers['referrer-policy']).toBe('no-referrer');
    expect(index.headers['x-frame-options']).toBe('DENY');
    expect((await get(server.port, '/assets/app-123.js')).headers['content-type']).toBe(
      'text/javascript; charset=utf-8',
    );
    expect((await get(server.port, '/assets/app.css')).headers['content-type']).toBe(
      'text/css; charset=utf-8',
    );
    expect((await get(server.port, '/assets/logo.svg')).headers['content-type']).toBe('image/svg+xml');
    const spa = await get(server.port, '/models/abc?x=1');
    expect(spa.status).toBe(200);
    expect(spa.body).toContain('<title>Rank-1');
    expect((await get(server.port, '/assets/missing.js')).status).toBe(404);
    expect((await get(server.port, '/', 'POST')).status).toBe(405);
    const head = await get(server.port, '/assets/app.css', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
  });

  it('refuses directory traversal and symlinks out of the renderer folder', async () => {
    for (const p of [
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/..%5csecret.txt',
      '/%00index.html',
      '/%E0%A4%A',
    ]) {
      const r = await get(server.port, p);
      expect(r.status, p).toBeGreaterThanOrEqual(400);
      expect(r.body, p).not.toContain('secret');
    }
    const link = await get(server.port, '/link.txt');
    expect(link.status).toBe(404);
    expect(link.body).not.toBe('secret');
  });

  it('refuses a foreign Host (DNS rebinding)', async () => {
    expect((await get(server.port, '/', 'GET', { Host: `evil.example:${server.port}` })).status).toBe(403);
    expect(
      (await upgrade(`${base}?token=${server.token}`, { Host: `evil.example:${server.port}` })).status,
    ).toBe(403);
  });

  it('refuses upgrades without the token, with a wrong one, from a foreign Origin, or at another path', async () => {
    expect(await upgrade(base)).toMatchObject({ status: 401, body: 'Missing token.' });
    expect(await upgrade(`${base}?token=wrong`)).toMatchObject({ status: 401, body: 'Wrong token.' });
    expect(await upgrade(`${base}?token=${server.token.slice(0, -1)}x`)).toMatchObject({ status: 401 });
    expect(await upgrade(`${base}?token=${server.token}`, { Origin: 'http://evil.example' })).toMatchObject({
      status: 403,
      body: 'Foreign origin.',
    });
    expect(
      await upgrade(`${base}?token=${server.token}`, { Origin: `http://127.0.0.1:${server.port + 1}` }),
    ).toMatchObject({ status: 403 });
    expect(await upgrade(`${base}?token=${server.token}`, { Origin: 'null' })).toMatchObject({ status: 403 });
    expect(await upgrade(`ws://127.0.0.1:${server.port}/other?token=${server.token}`)).toMatchObject({
      status: 404,
    });
    // The server's own origin, and a token in an Authorization header, are fine.
    const own = await upgrade(`${base}?token=${server.token}`, { Origin: `http://127.0.0.1:${server.port}` });
    expect(own.status).toBe(101);
    own.ws!.close();
    const bearer = await upgrade(base, { Authorization: `Bearer ${server.token}` });
    expect(bearer.status).toBe(101);
    bearer.ws!.close();
  });

  it('answers malformed messages with typed errors and keeps the connection', async () => {
    const { ws } = await upgrade(`${base}?token=${server.token}`);
    const s = rawSession(ws!);
    ws!.send('{not json');
    expect(await s.next((m) => /Malformed/.test(m.error?.message))).toMatchObject({
      id: 0,
      ok: false,
      error: { code: 'bad-request' },
    });
    ws!.send('[1,2]');
    ws!.send('"str"');
    ws!.send(JSON.stringify({ op: 'system.info', args: {} }));
    ws!.send(JSON.stringify({ id: 'x', op: 'system.info' }));
    ws!.send(Buffer.from([1, 2, 3]), { binary: true });
    ws!.send(JSON.stringify({ id: 7, op: 'grant', args: { path: '/' } }));
    ws!.send(JSON.stringify({ id: 8, op: '__proto__', args: {} }));
    ws!.send(JSON.stringify({ id: 9, op: 'models.rename', args: { id: 'a', name: 'x'.repeat(300) } }));
    ws!.send(JSON.stringify({ id: 10, op: 'system.info', args: {} }));
    expect(await s.next((m) => m.id === 10)).toMatchObject({ ok: true, result: { app: 'fake' } });
    expect(s.messages.filter((m) => m.id === 0 && m.error?.code === 'bad-request')).toHaveLength(6);
    expect(s.messages.find((m) => m.id === 7)).toMatchObject({
      ok: false,
      error: { code: 'unknown-operation' },
    });
    expect(s.messages.find((m) => m.id === 8)).toMatchObject({
      ok: false,
      error: { code: 'unknown-operation' },
    });
    expect(s.messages.find((m) => m.id === 9)).toMatchObject({
      ok: false,
      error: { code: 'bad-request', field: 'name' },
    });
    expect(fake.grants).toEqual([dir]);
    ws!.close();
  });

  it('closes with 1009 on an oversized message; the server stays up', async () => {
    const { ws } = await upgrade(`${base}?token=${server.token}`);
    const closed = new Promise<{ code: number; reason: string }>((r) =>
      ws!.on('close', (code, reason) => r({ code, reason: String(reason) })),
    );
    ws!.send(JSON.stringify({ id: 1, op: 'system.info', args: { pad: 'x'.repeat(1024 * 1024) } }));
    const c = await closed;
    expect(c.code).toBe(1009);
    expect(c.reason).toBe(`Message too large: the limit is ${1024 * 1024} bytes.`);
    const client = new ServiceClient(connectWebSocket(server.url, undefined, { WebSocket: WS }));
    await expect(client.call('system.info', {})).resolves.toMatchObject({ app: 'fake' });
  });

  it('client: calls, typed errors, events and jobs through ServiceClient; refuses oversize before sending', async () => {
    const conn = connectWebSocket(`http://127.0.0.1:${server.port}/`, server.token, {
      WebSocket: WS,
      maxMessageBytes: 1024 * 1024,
    });
    const client = new ServiceClient(conn);
    await expect(client.call('system.info', {})).resolves.toMatchObject({ app: 'fake' });
    expect(conn.state).toBe('open');
    await expect(client.call('models.get', { id: '../etc' })).rejects.toMatchObject({
      name: 'ServiceError',
      code: 'bad-request',
      field: 'id',
    });
    await expect(client.call('datasets.scan', { path: '/etc' })).rejects.toMatchObject({ code: 'forbidden' });
    await expect(client.call('datasets.scan', { path: join(dir, '..', 'x') })).rejects.toMatchObject({
      code: 'forbidden',
    });
    const seen: ServiceEvent[] = [];
    const result = await client.run('predict', { model: 'm', paths: [join(dir, 'a.png')] }, (e) =>
      seen.push(e),
    );
    expect(result).toMatchObject({ count: 20 });
    expect(seen.filter((e) => e.type === 'job.progress').length).toBeGreaterThan(0);
    await expect(
      client.call('predictions.csv', { rows: [{ file: 'x'.repeat(1024 * 1024), name: 'a' }] }),
    ).rejects.toMatchObject({ code: 'too-large' });
    await expect(client.call('system.info', {})).resolves.toMatchObject({ app: 'fake' });
    conn.close();
    await expect(client.call('system.info', {})).rejects.toMatchObject({ code: 'failed' });
  });
});

describe('ws-client reconnects', () => {
  it('rejects in-flight calls and fails running jobs when the server goes, then reconnects', async () => {
    const fake = createFakeService({ stepMs: 20 });
    let server = await startServer({ handler: fake });
    const port = server.port;
    const conn = connectWebSocket(server.url, undefined, {
      WebSocket: WS,
      minBackoffMs: 50,
      maxBackoffMs: 200,
    });
    const events: ServiceEvent[] = [];
    conn.subscribe((e) => events.push(e));
    const states: string[] = [];
    conn.onState((s) => states.push(s));
    await conn.call('system.info', {});
    const { jobId } = (await conn.call('train.start', { dataset: 'd', epochs: 1000 })) as { jobId: string };
    const hanging = conn.call('models.get', { id: 'hang' }).catch((e: unknown) => e);
    await sleep(50);
    await server.close();
    expect(await hanging).toMatchObject({ name: 'ServiceError', code: 'engine-crashed' });
    expect(events.find((e) => e.type === 'job.failed')).toMatchObject({
      jobId,
      error: { code: 'engine-crashed' },
    });
    await expect(conn.call('system.info', {})).rejects.toMatchObject({ code: 'engine-crashed' });

    server = await startServer({ handler: fake, port, token: server.token });
    for (let i = 0; i < 300 && conn.state !== 'open'; i++) await sleep(10);
    expect(conn.state).toBe('open');
    expect(states).toContain('waiting');
    await expect(conn.call('system.info', {})).resolves.toMatchObject({ app: 'fake' });
    expect(events.some((e) => e.type === 'engine.restarted')).toBe(true);
    conn.close();
    fake.dispose();
    await server.close();
  });
});

describe('ws-client never hangs', () => {
  it('rejects calls when the service cannot be reached or refuses the token', async () => {
    const fake = createFakeService();
    const server = await startServer({ handler: fake });
    const wrong = connectWebSocket(server.url, 'wrong-token', { WebSocket: WS, minBackoffMs: 1000 });
    await expect(wrong.call('system.info', {})).rejects.toMatchObject({
      code: 'engine-crashed',
      message: expect.stringContaining('Cannot reach'),
    });
    wrong.close();
    await server.close();
    const gone = connectWebSocket(server.url, undefined, { WebSocket: WS, minBackoffMs: 1000 });
    await expect(gone.call('system.info', {})).rejects.toMatchObject({ code: 'engine-crashed' });
    expect(gone.state).toBe('waiting');
    gone.close();
    expect(gone.state).toBe('closed');
  });
});
