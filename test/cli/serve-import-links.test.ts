/**
 * Issue 13 done-when: a dataset folder with links to files outside it, imported over the WebSocket
 * of the real `rank1 serve` (built CLI), imports its own images only and the report lists each link.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ServiceClient } from '../../src-main/contract.js';
import { connectWebSocket, type WebSocketConstructor } from '../../src-main/transports/ws-client.js';
import { CLI, REPO } from './run-cli.js';

const WS = WebSocket as unknown as WebSocketConstructor;
const mnist = resolve(REPO, '../shared/data/mnist');
const tmp = mkdtempSync(join(tmpdir(), 'rank1-ws-links-'));
const procs: ChildProcess[] = [];
afterAll(() => {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

describe('rank1 serve: import over the WebSocket', () => {
  it('leaves out links to outside files and lists them in the report', async () => {
    // A built CLI is required: fail (not skip) where there is none, so CI cannot pass without it.
    expect(existsSync(join(REPO, 'dist/main/cli.js')), 'npm run build:main first').toBe(true);
    const ds = join(tmp, 'ds');
    for (const cls of ['0', '1']) {
      mkdirSync(join(ds, cls), { recursive: true });
      for (const f of readdirSync(join(mnist, cls)).slice(0, 6))
        copyFileSync(join(mnist, cls, f), join(ds, cls, f));
    }
    const outsideFile = join(mnist, '0', readdirSync(join(mnist, '0')).at(-1)!);
    symlinkSync(outsideFile, join(ds, '0', 'outside.png'));
    symlinkSync(join(mnist, '2'), join(ds, '2')); // a whole class folder elsewhere

    const proc = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--allow', ds], {
      env: { ...process.env, RANK1_HOME: join(tmp, 'home') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    procs.push(proc);
    const line = await new Promise<string>((ok, ko) => {
      createInterface({ input: proc.stdout! }).once('line', ok);
      proc.once('exit', (code) => ko(new Error(`serve exited (${code})`)));
    });
    const conn = connectWebSocket(line, undefined, { WebSocket: WS });
    try {
      const client = new ServiceClient(conn);
      const summary = await client.run<'import'>('datasets.import', { path: ds, valFraction: 0 });
      const report = summary.report!;
      expect(report.images).toBe(12);
      expect(Object.keys(report.classes).sort()).toEqual(['0', '1']);
      const links = report.skipped.filter((s) => s.reason === 'outside-link').map((s) => s.file);
      expect(links).toEqual(expect.arrayContaining([expect.stringContaining('outside.png')]));
      expect(links.some((f) => f.endsWith('2') || f.includes(`${join('ds', '2')}`))).toBe(true);
    } finally {
      conn.close();
      proc.kill('SIGTERM');
    }
  }, 120_000);
});
