/**
 * Error text that reaches a browser client never names the app's own paths (temp folders, the data
 * home, the installed app, node_modules) or carries a stack trace; paths in the user's granted
 * folders stay. Unit cases on the redactor, then the same through a real ws-server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ServiceEvent, ServiceHandler } from '../../src-main/contract.js';
import { createRedactor } from '../../src-main/transports/ws-redact.js';
import { startServer, type RunningServer } from '../../src-main/transports/ws-server.js';

const repo = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const home = join(tmpdir(), 'rank1-home-test');
const granted = resolve(repo, '../shared/data');
const tmpFile = join(tmpdir(), 'rank1-abc123', 'cache', 'img-7.bin');
const stack = [
  `ENOENT: no such file or directory, open '${tmpFile}'`,
  `    at Object.openSync (node:fs:581:18)`,
  `    at readCache (${join(repo, 'src-main', 'data', 'cache.ts')}:10:3)`,
  `    at file://${join(repo, 'dist', 'main', 'engine', 'train.js')}:20:5`,
].join('\n');

describe('createRedactor', () => {
  const r = createRedactor({
    userRoots: [granted],
    internalRoots: [{ path: home, label: 'app data' }],
  });

  it('drops stack frames and replaces temp paths by <temp> and the file name', () => {
    const out = r.text(stack);
    expect(out).toBe("ENOENT: no such file or directory, open '<temp>/…/img-7.bin'");
  });

  it('names the data home, the app and node_modules by a label, never their path', () => {
    expect(r.text(`Model ${join(home, 'models', 'm1', 'model.json')} is damaged.`)).toBe(
      'Model <app data>/…/model.json is damaged.',
    );
    expect(r.text(`Cannot load ${join(repo, 'node_modules', 'webgpu', 'index.js')}: bad ELF`)).toBe(
      'Cannot load <app>: bad ELF',
    );
    expect(r.text(`missing ${join(repo, 'dist', 'renderer')}.`)).toBe('missing <app>/…/renderer.');
    expect(r.text(`see file://${join(tmpdir(), 'x.json')}`)).toBe('see <temp>/x.json');
  });

  it("keeps paths in the user's granted folders and text without paths", () => {
    const mine = join(granted, 'mnist', '0', 'broken.png');
    expect(r.text(`${mine}: not an image`)).toBe(`${mine}: not an image`);
    expect(r.text('Train and/or val split is empty.')).toBe('Train and/or val split is empty.');
  });

  it('redacts error and reason texts in nested values, nothing else', () => {
    const v = r.deep({
      id: 1,
      ok: false,
      error: { code: 'failed', message: stack, field: 'path' },
      result: { dir: join(home, 'models', 'm1'), skipped: [{ file: tmpFile, reason: `copy ${tmpFile}` }] },
    });
    expect(v.error).toEqual({
      code: 'failed',
      message: "ENOENT: no such file or directory, open '<temp>/…/img-7.bin'",
      field: 'path',
    });
    expect(v.result.dir).toBe(join(home, 'models', 'm1'));
    expect(v.result.skipped[0]).toEqual({ file: tmpFile, reason: 'copy <temp>/…/img-7.bin' });
  });
});

describe('ws-server sends redacted errors', () => {
  let server: RunningServer;
  let dir: string;
  const listeners = new Set<(e: ServiceEvent) => void>();
  const handler: ServiceHandler = {
    async call(op) {
      if (op === 'system.info') {
        for (const l of listeners) {
          l({ type: 'job.failed', jobId: 'j1', kind: 'train', error: { code: 'failed', message: stack } });
          l({ type: 'engine.restarted', reason: `crashed in ${join(home, 'datasets', 'd1', '.lock')}` });
        }
        throw new Error(stack);
      }
      throw Object.assign(new Error('x'), { code: 'not-found', message: `No model in ${dir}.` });
    },
    subscribe(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rank1-granted-'));
    server = await startServer({
      handler,
      redact: { userRoots: [dir], internalRoots: [{ path: home, label: 'app data' }] },
    });
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('responses, job.failed and engine.restarted carry no internal path or stack frame', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws?token=${server.token}`);
    const got: string[] = [];
    ws.on('message', (d) => got.push(String(d)));
    await new Promise((ok) => ws.on('open', ok));
    ws.send(JSON.stringify({ id: 1, op: 'system.info', args: {} }));
    ws.send(JSON.stringify({ id: 2, op: 'models.get', args: { id: 'm' } }));
    for (let i = 0; i < 200 && got.length < 4; i++) await new Promise((r) => setTimeout(r, 10));
    ws.close();
    const all = got.join('\n');
    expect(got).toHaveLength(4);
    expect(all).not.toContain(tmpdir() + '/rank1-abc123');
    expect(all).not.toContain(home);
    expect(all).not.toContain(repo);
    expect(all).not.toMatch(/\bat \S+ \(|node:fs/);
    expect(all).toContain('<temp>/…/img-7.bin');
    expect(all).toContain('crashed in <app data>/…/.lock');
    // The user's own granted folder is named as it is.
    expect(all).toContain(`No model in ${dir}.`);
  });
});
