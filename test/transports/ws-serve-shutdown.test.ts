/**
 * `rank1 serve` stops cleanly on SIGTERM and SIGINT even while a training job runs: the process
 * (and its engine child) exits with 0 within 3 s of the signal. Runs the CLI from source (tsx), a
 * throwaway RANK1_HOME, and a small dataset copied from ../shared/data/mnist into a temp folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const mnist = resolve(root, '../shared/data/mnist');
let work: string;
let data: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'rank1-serve-stop-'));
  data = join(work, 'digits');
  for (const d of ['0', '1', '2']) {
    mkdirSync(join(data, d), { recursive: true });
    for (const f of readdirSync(join(mnist, d)).slice(0, 40))
      copyFileSync(join(mnist, d, f), join(data, d, f));
  }
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function serve(): Promise<{ proc: ChildProcess; url: URL; stderr: () => string }> {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', 'src-main/cli.ts', 'serve', '--port', '0', '--allow', work],
    {
      cwd: root,
      env: { ...process.env, RANK1_HOME: join(work, 'home') },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, as in a terminal: Ctrl+C and `kill -TERM -PGID` reach the engine too.
      detached: true,
    },
  );
  let err = '';
  proc.stderr!.on('data', (d) => (err += String(d)));
  const line = await new Promise<string>((ok, ko) => {
    createInterface({ input: proc.stdout! }).once('line', ok);
    proc.once('exit', (code) => ko(new Error(`serve exited ${code}: ${err}`)));
  });
  return { proc, url: new URL(line.trim()), stderr: () => err };
}

/** Starts a training job over the WebSocket and resolves once its first progress event arrives. */
async function startTraining(url: URL): Promise<WebSocket> {
  const ws = new WebSocket(`ws://${url.host}/ws?token=${url.searchParams.get('token')}`);
  await new Promise((ok, ko) => (ws.once('open', ok), ws.once('error', ko)));
  ws.send(
    JSON.stringify({
      id: 1,
      op: 'train.start',
      args: {
        dataset: data,
        arch: 'resnet20',
        epochs: 200,
        members: 2,
        imageSize: 32,
        batchSize: 32,
        name: 'stop-test',
      },
    }),
  );
  await new Promise<void>((ok, ko) => {
    const t = setTimeout(() => ko(new Error('no training progress within 60 s')), 60_000);
    ws.on('message', (d) => {
      const m = JSON.parse(String(d));
      if (m.id === 1 && !m.ok) ko(new Error(JSON.stringify(m.error)));
      if (m.event?.type === 'job.progress' && m.event.kind === 'train') {
        clearTimeout(t);
        ok();
      }
    });
  });
  return ws;
}

/** Sends one request and resolves with its response; events are ignored. */
function call(ws: WebSocket, id: number, op: string, args: unknown): Promise<any> {
  return new Promise((ok) => {
    const on = (d: WebSocket.RawData) => {
      const m = JSON.parse(String(d));
      if (m.id !== id) return;
      ws.off('message', on);
      ok(m);
    };
    ws.on('message', on);
    ws.send(JSON.stringify({ id, op, args }));
  });
}

/** Resolves with the first event matching `pred`. */
function event(ws: WebSocket, pred: (e: any) => boolean, ms = 120_000): Promise<any> {
  return new Promise((ok, ko) => {
    const t = setTimeout(() => ko(new Error('event did not come')), ms);
    const on = (d: WebSocket.RawData) => {
      const m = JSON.parse(String(d));
      if (!m.event || !pred(m.event)) return;
      clearTimeout(t);
      ws.off('message', on);
      ok(m.event);
    };
    ws.on('message', on);
  });
}

describe('rank1 serve shutdown', () => {
  it('exits 0 within 3 s of SIGTERM after a prediction', async () => {
    const { proc, url, stderr } = await serve();
    try {
      const ws = new WebSocket(`ws://${url.host}/ws?token=${url.searchParams.get('token')}`);
      await new Promise((ok, ko) => (ws.once('open', ok), ws.once('error', ko)));
      ws.on('error', () => {});
      const trained = event(ws, (e) => e.kind === 'train' && /job\.(done|failed)/.test(e.type));
      const started = await call(ws, 1, 'train.start', {
        dataset: data,
        arch: 'mlp',
        epochs: 1,
        members: 2,
        imageSize: 16,
        name: 'stop-test',
      });
      expect(started.ok, JSON.stringify(started)).toBe(true);
      const done = await trained;
      expect(done.type, JSON.stringify(done)).toBe('job.done');
      const predicted = event(ws, (e) => e.kind === 'predict' && /job\.(done|failed)/.test(e.type));
      const files = readdirSync(join(data, '1'))
        .slice(0, 3)
        .map((f) => join(data, '1', f));
      const p = await call(ws, 2, 'predict', { model: done.result.id, paths: files });
      expect(p.ok, JSON.stringify(p)).toBe(true);
      expect((await predicted).type).toBe('job.done');
      const t0 = Date.now();
      const exited = new Promise<{ code: number | null; ms: number }>((ok) =>
        proc.once('exit', (code) => ok({ code, ms: Date.now() - t0 })),
      );
      process.kill(-proc.pid!, 'SIGTERM');
      const { code, ms } = await Promise.race([
        exited,
        new Promise<{ code: number | null; ms: number }>((ok) =>
          setTimeout(() => ok({ code: null, ms: 10_000 }), 10_000),
        ),
      ]);
      console.log(`[serve shutdown] SIGTERM after a prediction: exited ${code} after ${ms} ms`);
      expect(ms, stderr()).toBeLessThan(3000);
      expect(code, stderr()).toBe(0);
    } finally {
      if (proc.exitCode === null) process.kill(-proc.pid!, 'SIGKILL');
    }
  }, 180_000);

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`exits 0 within 3 s of ${signal} while training`, async () => {
      const { proc, url, stderr } = await serve();
      try {
        const ws = await startTraining(url);
        ws.on('error', () => {});
        const t0 = Date.now();
        const exited = new Promise<{ code: number | null; ms: number }>((ok) =>
          proc.once('exit', (code) => ok({ code, ms: Date.now() - t0 })),
        );
        process.kill(-proc.pid!, signal); // the whole group, as a terminal does
        const { code, ms } = await Promise.race([
          exited,
          new Promise<{ code: number | null; ms: number }>((ok) =>
            setTimeout(() => ok({ code: null, ms: 10_000 }), 10_000),
          ),
        ]);
        console.log(`[serve shutdown] ${signal} while training: exited ${code} after ${ms} ms`);
        expect(ms, stderr()).toBeLessThan(3000);
        expect(code, stderr()).toBe(0);
      } finally {
        if (proc.exitCode === null) process.kill(-proc.pid!, 'SIGKILL');
      }
    }, 120_000);
  }
});
