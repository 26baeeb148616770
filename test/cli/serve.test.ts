import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ServiceClient } from '../../src-main/contract.js';
import { connectWebSocket, type WebSocketConstructor } from '../../src-main/transports/ws-client.js';

const WS = WebSocket as unknown as WebSocketConstructor;
const cliWired =
  existsSync('src-main/cli.ts') && readFileSync('src-main/cli.ts', 'utf8').includes('registerServe');
// The real CLI once the lead wires `registerServe` into it; until then a test-only entry.
const entry = cliWired ? 'src-main/cli.ts' : 'test/cli/fixtures/serve-entry.ts';
const builtCli =
  existsSync('dist/main/cli.js') &&
  existsSync('dist/main/cli/serve.js') &&
  readFileSync('dist/main/cli.js', 'utf8').includes('registerServe');
if (!cliWired)
  console.warn(
    'serve.test: src-main/cli.ts does not call registerServe yet: using test/cli/fixtures/serve-entry.ts',
  );
if (!builtCli)
  console.warn('serve.test: no built CLI with serve (npm run build:main): bin/rank1.js test skipped');

const root = mkdtempSync(join(tmpdir(), 'rank1-serve-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const procs: ChildProcess[] = [];
afterAll(() => procs.forEach((p) => p.exitCode === null && p.kill('SIGKILL')));

/** Start serve; resolve with the first stdout line (and everything printed before it, to check it is nothing). */
function startServe(argv: string[], env: Record<string, string>) {
  const proc = spawn(process.execPath, argv, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  procs.push(proc);
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => (stderr += c));
  const firstLine = new Promise<string>((ok, ko) => {
    const rl = createInterface({ input: proc.stdout! });
    rl.once('line', ok);
    proc.once('exit', (code) => ko(new Error(`serve exited (${code}) before printing a URL:\n${stderr}`)));
  });
  firstLine.catch(() => {}); // observed by the tests that expect a URL
  const exited = new Promise<number | null>((ok) => proc.once('exit', (code) => ok(code)));
  return { proc, firstLine, exited, stderr: () => stderr };
}

function childrenOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function exercise(argv: string[], name: string) {
  const home = join(root, `${name}-home`);
  const allowed = join(root, `${name}-allowed`);
  const other = join(root, `${name}-other`);
  mkdirSync(join(allowed, 'cats'), { recursive: true });
  mkdirSync(other);
  const s = startServe([...argv, 'serve', '--port', '0', '--allow', allowed], { RANK1_HOME: home });
  const line = await s.firstLine;
  // The first line is the URL with its token, nothing before it.
  expect(line).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{40,}$/);
  const url = new URL(line);

  const page = await fetch(new URL('/', url));
  if (existsSync('dist/renderer/index.html')) {
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain(`ws://${url.host}`);
  } else expect(page.status).toBe(404);

  const conn = connectWebSocket(line, undefined, { WebSocket: WS });
  const client = new ServiceClient(conn);
  const info = await client.call('system.info', {});
  expect(info.platform).toContain(process.platform);
  expect(info.dataHome).toBe(home);
  // --allow granted exactly that folder.
  await expect(client.call('datasets.scan', { path: allowed })).resolves.toMatchObject({ images: 0 });
  await expect(client.call('datasets.scan', { path: other })).rejects.toMatchObject({ code: 'forbidden' });
  conn.close();

  // The engine runs in a child process, and SIGTERM takes both down cleanly.
  const kids = childrenOf(s.proc.pid!);
  expect(kids.length).toBeGreaterThan(0);
  s.proc.kill('SIGTERM');
  expect(await s.exited).toBe(0);
  for (let i = 0; i < 100 && kids.some(alive); i++) await new Promise((r) => setTimeout(r, 50));
  expect(kids.filter(alive)).toEqual([]);
  expect(s.stderr()).toContain('SIGTERM');
}

describe('rank1 serve', () => {
  it('from source: prints the URL first, serves the renderer and the engine, honours --allow and RANK1_HOME, stops on SIGTERM', async () => {
    await exercise(['--import', 'tsx', entry], 'src');
  });

  it.skipIf(!builtCli)('built: node bin/rank1.js serve', async () => {
    await exercise(['bin/rank1.js'], 'built');
  });

  it('refuses a bad --port', async () => {
    const s = startServe(['--import', 'tsx', entry, 'serve', '--port', 'abc'], {});
    expect(await s.exited).not.toBe(0);
    expect(s.stderr()).toMatch(/port/);
  });
});
