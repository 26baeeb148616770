import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ImportProgress, importDataset } from '../../src-main/data/index.js';
import { ownerLive, parseLock, processStartTime, STALE_MS } from '../../src-main/data/lock.js';
import { jpeg, tempDirs, writeFile } from './helpers.js';

let t: Awaited<ReturnType<typeof tempDirs>>;
let sleeper: ReturnType<typeof spawn> | undefined;
beforeEach(async () => {
  t = await tempDirs();
});
afterEach(async () => {
  sleeper?.kill();
  sleeper = undefined;
  await t.cleanup();
});

/** A live process that is not an importer: what a reused PID looks like. */
async function otherLiveProcess(): Promise<number> {
  sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
  await new Promise((r) => sleeper!.once('spawn', r));
  return sleeper.pid!;
}

/** Imports once (so the dataset folder exists) and returns its lock file path. */
async function imported(): Promise<{ root: string; lock: string }> {
  const root = path.join(t.dir, 'set');
  let seed = 1;
  for (const c of ['cat', 'dog'])
    for (let i = 0; i < 3; i++) await writeFile(path.join(root, c, `${i}.jpg`), await jpeg(seed++));
  const first = await importDataset(root, { imageSize: 16 });
  return { root, lock: path.join(t.home, 'datasets', first.id, '.lock') };
}

describe('the import lock', () => {
  it('takes over a lock whose PID now belongs to another live process (old, plain-PID lock)', async () => {
    const { root, lock } = await imported();
    const pid = await otherLiveProcess();
    await fs.writeFile(lock, String(pid));
    const long = new Date(Date.now() - 10 * 60_000);
    await fs.utimes(lock, long, long); // written by a crashed import ten minutes ago
    const again = await importDataset(root, { imageSize: 16, signal: AbortSignal.timeout(8000) });
    expect(again.report.images).toBe(6);
    await expect(fs.stat(lock)).rejects.toThrow();
  });

  it('takes over at once a fresh lock whose PID is live but started at another time', async () => {
    const { root, lock } = await imported();
    const pid = await otherLiveProcess();
    const start = processStartTime(pid);
    if (process.platform === 'linux') expect(start).toBeDefined();
    await fs.writeFile(
      lock,
      JSON.stringify({ pid, start: `${start ?? 0}1`, host: (await import('node:os')).hostname() }),
    );
    const events: ImportProgress[] = [];
    const again = await importDataset(root, {
      imageSize: 16,
      signal: AbortSignal.timeout(8000),
      onProgress: (p) => events.push(p),
    });
    expect(again.report.images).toBe(6);
    if (process.platform === 'linux') expect(events.some((e) => e.phase === 'wait')).toBe(false);
  });

  it('waits for a live holder with a visible message, and goes on when it lets go', async () => {
    const { root, lock } = await imported();
    const pid = await otherLiveProcess();
    const start = processStartTime(pid);
    await fs.writeFile(lock, JSON.stringify({ pid, start, host: (await import('node:os')).hostname() }));
    const events: ImportProgress[] = [];
    let released = false;
    const again = await importDataset(root, {
      imageSize: 16,
      signal: AbortSignal.timeout(8000),
      onProgress: (p) => {
        events.push(p);
        if (p.phase === 'wait' && !released) {
          released = true;
          void fs.rm(lock); // the other import finishes
        }
      },
    });
    expect(again.report.images).toBe(6);
    const wait = events.find((e) => e.phase === 'wait');
    expect(wait?.message).toMatch(/waiting for another import of this folder/);
  });

  it('a wait for a live holder can be cancelled', async () => {
    const { root, lock } = await imported();
    const pid = await otherLiveProcess();
    await fs.writeFile(
      lock,
      JSON.stringify({ pid, start: processStartTime(pid), host: (await import('node:os')).hostname() }),
    );
    const ac = new AbortController();
    const p = importDataset(root, {
      imageSize: 16,
      signal: ac.signal,
      onProgress: (e) => e.phase === 'wait' && ac.abort(),
    });
    await expect(p).rejects.toThrow();
    expect(JSON.parse(await fs.readFile(lock, 'utf8')).pid).toBe(pid); // someone else's lock is left alone
  });
});

describe('lock ownership rules', () => {
  it('reads both lock formats and rejects garbage', () => {
    expect(parseLock('1234\n')).toEqual({ pid: 1234 });
    expect(parseLock('{"pid":5,"host":"h","start":"99"}')).toEqual({ pid: 5, host: 'h', start: '99' });
    expect(parseLock('')).toBeUndefined();
    expect(parseLock('{"pid":"x"}')).toBeUndefined();
  });

  it('a lock is live only while fresh, owned by a live process that started when it says', async () => {
    const pid = await otherLiveProcess();
    const start = processStartTime(pid);
    const host = (await import('node:os')).hostname();
    expect(ownerLive({ pid, host, ...(start ? { start } : {}) }, 0)).toBe(true);
    expect(ownerLive({ pid, host, ...(start ? { start } : {}) }, STALE_MS)).toBe(false); // no heartbeat
    if (start) expect(ownerLive({ pid, host, start: `${start}0` }, 0)).toBe(false); // PID reused
    expect(ownerLive({ pid: process.pid, host }, 0)).toBe(false); // our own leftover
    expect(ownerLive({ pid, host: 'another-machine' }, 0)).toBe(true); // cannot check: trust the heartbeat
    expect(ownerLive({ pid, host: 'another-machine' }, STALE_MS + 1)).toBe(false);
    expect(ownerLive(undefined, 0)).toBe(true); // being written right now
    expect(ownerLive(undefined, STALE_MS)).toBe(false);
    sleeper!.kill();
    await new Promise((r) => sleeper!.once('exit', r));
    expect(ownerLive({ pid, host }, 0)).toBe(false); // gone
  });
});
