/**
 * `rank1 predict MODEL FOLDER | head -3`: the reader goes away after a few lines. The command stops
 * quietly, as any Unix tool does, instead of dying on EPIPE with a JavaScript stack trace.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, REPO } from './run-cli.js';

const demo = join(REPO, 'resources/demo/digits');
const digits = resolve(REPO, '../shared/data/mnist/3');
const home = mkdtempSync(join(tmpdir(), 'rank1-pipe-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('rank1 with a reader that stops early', () => {
  it('predict | head -1 exits 0 with nothing on stderr', async () => {
    const child = spawn(process.execPath, [CLI, 'predict', demo, digits], {
      env: { ...process.env, RANK1_HOME: home },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    // like `head -1`: read the first chunk, then close our end of the pipe
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(stderr).not.toMatch(/EPIPE|at .*\.js:\d+/);
    expect(code).toBe(0);
  }, 120_000);
});
