/**
 * One import of a dataset at a time, within this process (a queue) and across processes (a lock
 * file `<dir>/.lock`, created exclusively). A lock is someone else's only while its owner is
 * provably that same process and alive:
 * - the file names the owner's PID, host and (on Linux) start time from /proc/<pid>/stat, so a
 *   PID reused by an unrelated process after a crash does not count;
 * - the owner refreshes the file's mtime every HEARTBEAT_MS; a lock not refreshed for STALE_MS
 *   is stale whatever its PID (the portable fallback where start times cannot be read, and for
 *   plain-PID locks written by older versions).
 * While a live owner holds it, `onWait` is told (once, then every WAIT_REPEAT_MS) so the caller can
 * show "waiting for another import of this folder" instead of waiting silently.
 */
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** How often the owner touches its lock. */
export const HEARTBEAT_MS = 2_000;
/** A lock untouched this long is stale (its owner is gone or frozen). */
export const STALE_MS = 30_000;
const POLL_MS = 100;
const WAIT_REPEAT_MS = 1_000;

/** What a lock file says about its owner. `start` is absent where it cannot be read. */
export interface LockOwner {
  pid: number;
  host?: string;
  start?: string;
}

/**
 * The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), or
 * undefined off Linux or when the process does not exist. Together with the PID it names one
 * process: a reused PID has another start time.
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Parses a lock file: JSON `{pid, host, start}`, or a bare PID (older versions). */
export function parseLock(text: string): LockOwner | undefined {
  const t = text.trim();
  if (/^\d+$/.test(t)) return { pid: Number(t) };
  try {
    const o = JSON.parse(t) as Partial<LockOwner>;
    if (typeof o.pid !== 'number' || !(o.pid > 0)) return undefined;
    return {
      pid: o.pid,
      ...(typeof o.host === 'string' ? { host: o.host } : {}),
      ...(typeof o.start === 'string' ? { start: o.start } : {}),
    };
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the lock's owner may still be working on it. `ageMs` is the time since the lock file
 * was last touched.
 */
export function ownerLive(owner: LockOwner | undefined, ageMs: number): boolean {
  if (!owner) return ageMs < STALE_MS; // being written right now, or garbage: let it age out
  if (ageMs >= STALE_MS) return false;
  if (owner.host !== undefined && owner.host !== os.hostname()) return true; // cannot check: trust the heartbeat
  // Our own PID: this process's queue already serialises its imports, so such a file is a leftover.
  if (owner.pid === process.pid) return false;
  if (!pidAlive(owner.pid)) return false;
  if (owner.start !== undefined) {
    const now = processStartTime(owner.pid);
    if (now !== undefined && now !== owner.start) return false; // the PID now names another process
  }
  return true;
}

function ownLock(): string {
  const start = processStartTime(process.pid);
  return JSON.stringify({ pid: process.pid, host: os.hostname(), ...(start ? { start } : {}) });
}

const inProcess = new Map<string, Promise<unknown>>();

export interface LockOptions {
  signal?: AbortSignal;
  /** Called while another import holds the lock, with a line for people. */
  onWait?: (message: string) => void;
}

/** Run `fn` holding the dataset folder's lock (see the file comment). */
export async function withDatasetLock<T>(dir: string, opts: LockOptions, fn: () => Promise<T>): Promise<T> {
  const { signal, onWait } = opts;
  const prev = inProcess.get(dir);
  if (prev) onWait?.('waiting for another import of this folder (in this process) to finish');
  const run = (prev ?? Promise.resolve())
    .catch(() => {})
    .then(async () => {
      const lock = path.join(dir, '.lock');
      await acquire(lock, signal, onWait);
      const beat = setInterval(() => {
        const now = new Date();
        fs.utimes(lock, now, now).catch(() => {});
      }, HEARTBEAT_MS);
      beat.unref();
      try {
        return await fn();
      } finally {
        clearInterval(beat);
        await fs.rm(lock, { force: true });
      }
    });
  inProcess.set(dir, run);
  try {
    return await run;
  } finally {
    if (inProcess.get(dir) === run) inProcess.delete(dir);
  }
}

async function acquire(lock: string, signal: AbortSignal | undefined, onWait: LockOptions['onWait']) {
  let lastTold = -Infinity;
  for (;;) {
    signal?.throwIfAborted();
    try {
      await fs.writeFile(lock, ownLock(), { flag: 'wx' });
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const [text, stat] = await Promise.all([
      fs.readFile(lock, 'utf8').catch(() => undefined),
      fs.stat(lock).catch(() => undefined),
    ]);
    if (text === undefined || !stat) continue; // released meanwhile: try again
    const owner = parseLock(text);
    if (!ownerLive(owner, Date.now() - stat.mtimeMs)) {
      // Stale: remove it only if it is still the same file (another waiter may have taken over).
      const again = await fs.stat(lock).catch(() => undefined);
      if (again && again.mtimeMs === stat.mtimeMs && again.ino === stat.ino)
        await fs.rm(lock, { force: true });
      continue;
    }
    const now = performance.now();
    if (onWait && now - lastTold >= WAIT_REPEAT_MS) {
      lastTold = now;
      onWait(`waiting for another import of this folder (process ${owner?.pid ?? '?'}) to finish`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
