/**
 * Contract tests through the WebSocket against the real service (src-main/service/): every
 * operation refuses bad input with a typed error, the gates refuse what they must, and after all
 * of it the service still answers and nothing was created, changed or lost.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { z } from 'zod';
import {
  defaultSettings,
  operationNames,
  operations,
  ServiceClient,
  type OperationName,
  type ServiceHandler,
} from '../../src-main/contract.js';
import {
  connectWebSocket,
  type WebSocketConnection,
  type WebSocketConstructor,
} from '../../src-main/transports/ws-client.js';
import { startServer, type RunningServer } from '../../src-main/transports/ws-server.js';

const WS = WebSocket as unknown as WebSocketConstructor;
const MB = 'x'.repeat(1024 * 1024);

describe('the contract through the WebSocket, against the real service', () => {
  let root: string;
  let home: string;
  let granted: string;
  let outside: string;
  let service: ServiceHandler & { grant(p: string): void; dispose(): void };
  let server: RunningServer;
  let conn: WebSocketConnection;
  let client: ServiceClient;
  let infoBefore: unknown;

  /** Minimal valid arguments per operation (never sent as is): each case breaks one thing. */
  let valid: Record<OperationName, Record<string, unknown>>;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'rank1-contract-'));
    home = join(root, 'home');
    granted = join(root, 'granted');
    outside = join(root, 'outside');
    mkdirSync(join(granted, 'cats'), { recursive: true });
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret.png'), 'not an image');
    // The data room finds its cache through RANK1_HOME: keep this test's datasets in its own home.
    process.env.RANK1_HOME = home;
    const { createService } = await import('../../src-main/service/index.js');
    service = createService({ home });
    service.grant(granted);
    server = await startServer({ handler: service, maxMessageBytes: 8 * 1024 * 1024 });
    conn = connectWebSocket(server.url, undefined, { WebSocket: WS });
    client = new ServiceClient(conn);
    infoBefore = await client.call('system.info', {});
    valid = {
      'system.info': {},
      'datasets.scan': { path: granted },
      'datasets.import': { path: granted },
      'datasets.list': {},
      'datasets.remove': { id: 'd' },
      'datasets.files': { id: 'd' },
      'datasets.thumbnail': { file: join(granted, 'a.png') },
      'train.start': { dataset: granted },
      'train.status': {},
      'compare.start': { dataset: granted, methods: ['rank1', 'deterministic'] },
      'jobs.cancel': { jobId: 'j' },
      'jobs.list': {},
      'models.list': {},
      'models.get': { id: 'm' },
      'models.rename': { id: 'm', name: 'n' },
      'models.remove': { id: 'm' },
      'models.setFlag': { id: 'm', score: 'knn' },
      'models.export': { id: 'm' },
      'models.import': { path: join(granted, 'm.zip') },
      'backbones.import': { path: granted },
      'backbones.list': {},
      'uploads.begin': { name: 'photos', bytes: 0 },
      'uploads.chunk': { uploadId: 'u1', path: 'a/b.jpg', offset: 0, base64: '' },
      'uploads.finish': { uploadId: 'u1' },
      evaluate: { model: 'm', dataset: granted },
      predict: { model: 'm', paths: [join(granted, 'a.png')] },
      'predictions.csv': { rows: [] },
      'predictions.copy': { rows: [], dest: join(granted, 'out') },
      'settings.get': {},
      'settings.set': {},
    } satisfies Record<OperationName, Record<string, unknown>>;
  });

  afterAll(async () => {
    conn?.close();
    await server?.close();
    service?.dispose();
    rmSync(root, { recursive: true, force: true });
  });

  const expectBad = async (op: string, args: unknown, field?: string) => {
    const err = await conn.call(op, args).then(
      (r) => {
        throw new Error(
          `${op} ${JSON.stringify(args).slice(0, 200)} succeeded: ${JSON.stringify(r).slice(0, 200)}`,
        );
      },
      (e: unknown) => e,
    );
    expect(err, `${op} ${JSON.stringify(args).slice(0, 120)}`).toMatchObject({
      name: 'ServiceError',
      code: 'bad-request',
    });
    if (field)
      expect((err as { field?: string }).field ?? '', `${op}: field`).toMatch(
        new RegExp(`^${field.replace('.', '\\.')}`),
      );
    expect((err as Error).message.length).toBeLessThan(2000);
    // One line naming the field in plain words (worded once, in contract.ts), never zod's own.
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    expect(message, message).not.toMatch(/Too small|Too big|Invalid input|Invalid option|Unrecognized/);
    const named = (err as { field?: string }).field ?? op;
    expect(message.startsWith(`${named}: `), message).toBe(true);
  };

  it.each(operationNames)(
    '%s: non-object args, unknown fields, missing and wrong-typed fields, 1 MB strings',
    async (op) => {
      for (const args of [42, 'str', [1], true]) await expectBad(op, args);
      await expectBad(op, { ...valid[op], notAField: 1 });
      const shape = (operations[op] as unknown as z.ZodObject).shape as Record<string, z.ZodType>;
      for (const [key, field] of Object.entries(shape)) {
        if (!field.safeParse(undefined).success) {
          const { [key]: _dropped, ...rest } = valid[op];
          await expectBad(op, rest, key);
        }
        const wrong = [{ wrong: true }, 12345, 'wrong', [1]].find((v) => !field.safeParse(v).success);
        if (wrong !== undefined) await expectBad(op, { ...valid[op], [key]: wrong }, key);
        const big = field.safeParse(MB).success
          ? undefined
          : !field.safeParse([MB]).success && field.safeParse([]).success
            ? [MB]
            : MB;
        if (big !== undefined && !field.safeParse(big).success)
          await expectBad(op, { ...valid[op], [key]: big }, key);
      }
    },
  );

  it('unknown operations get a typed error', async () => {
    for (const op of ['nope', '', 'grant', 'constructor', '__proto__', 'system.info ', MB]) {
      await expect(conn.call(op, {})).rejects.toMatchObject({ code: 'unknown-operation' });
    }
  });

  it('paths outside the grants and `..` traversal are forbidden', async () => {
    const escapes = [
      outside,
      join(outside, 'secret.png'),
      join(granted, '..', 'outside'),
      join(granted, 'cats', '..', '..', 'outside', 'secret.png'),
      '/etc/passwd',
    ];
    for (const p of escapes) {
      // Each operation that takes a path, with the field the refusal must name.
      const calls: [op: string, args: object, field: string][] = [
        ['datasets.scan', { path: p }, 'path'],
        ['datasets.import', { path: p }, 'path'],
        ['datasets.thumbnail', { file: p }, 'file'],
        ['train.start', { dataset: p }, 'dataset'],
        ['models.import', { path: p }, 'path'],
        ['predictions.copy', { rows: [], dest: p }, 'dest'],
        [
          'predictions.copy',
          { rows: [{ file: p, name: 'x', label: 'cat' }], dest: join(granted, 'out') },
          'rows.0.file',
        ],
      ];
      for (const [op, args, field] of calls)
        await expect(
          client.call(op as 'datasets.scan', args as never),
          `${op} ${field}`,
        ).rejects.toMatchObject({
          code: 'forbidden',
          field,
        });
      // These look the model up first; with no such model, that answers (not-found) before the path.
      await expect(client.call('evaluate', { model: 'm', dataset: p })).rejects.toMatchObject({
        code: expect.stringMatching(/^(forbidden|not-found)$/),
      });
      await expect(client.call('predict', { model: 'm', paths: [p] })).rejects.toMatchObject({
        code: expect.stringMatching(/^(forbidden|not-found)$/),
      });
    }
  });

  it('refuses a missing or wrong token, a foreign Origin and an oversized message', async () => {
    const attempt = (url: string, headers: Record<string, string> = {}) =>
      new Promise<number>((ok) => {
        const ws = new WebSocket(url, { headers });
        ws.on('unexpected-response', (_q, res) => ok(res.statusCode!));
        ws.on('open', () => (ws.close(), ok(101)));
        ws.on('error', () => {});
      });
    const ws = `ws://127.0.0.1:${server.port}/ws`;
    expect(await attempt(ws)).toBe(401);
    expect(await attempt(`${ws}?token=nope`)).toBe(401);
    expect(await attempt(`${ws}?token=${server.token}`, { Origin: 'https://evil.example' })).toBe(403);
    const big = connectWebSocket(server.url, undefined, { WebSocket: WS, maxMessageBytes: 1 << 30 });
    await expect(
      big.call('predictions.csv', { rows: [{ file: 'x'.repeat(9 * 1024 * 1024), name: 'n' }] }),
    ).rejects.toMatchObject({ code: 'too-large' });
    big.close();
  });

  it('afterwards the service still answers correctly and nothing was created or lost', async () => {
    await expect(client.call('system.info', {})).resolves.toEqual(infoBefore);
    await expect(client.call('settings.get', {})).resolves.toEqual(defaultSettings);
    await expect(client.call('models.list', {})).resolves.toEqual([]);
    await expect(client.call('datasets.list', {})).resolves.toEqual([]);
    const jobs = (await client.call('jobs.list', {})) as { state: string }[];
    expect(jobs.filter((j) => j.state === 'running')).toEqual([]);
    expect(readdirSync(granted)).toEqual(['cats']);
    expect(readdirSync(outside)).toEqual(['secret.png']);
    expect(conn.state).toBe('open');
  });
});
