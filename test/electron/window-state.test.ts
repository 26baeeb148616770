import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  defaultWindowState,
  loadWindowState,
  sanitizeWindowState,
  saveWindowState,
} from '../../src-main/electron/window-state.js';

const screen = [{ x: 0, y: 0, width: 1920, height: 1080 }];
let dir: string;
beforeAll(async () => (dir = await mkdtemp(join(tmpdir(), 'rank1-win-'))));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('sanitizeWindowState', () => {
  it('keeps a sane saved state', () => {
    expect(sanitizeWindowState({ x: 100, y: 80, width: 1000, height: 700, maximized: true }, screen)).toEqual(
      { x: 100, y: 80, width: 1000, height: 700, maximized: true },
    );
  });
  it('clamps sizes and drops positions that are off every display', () => {
    expect(sanitizeWindowState({ x: 5000, y: 80, width: 100, height: 99999 }, screen)).toEqual({
      width: 800,
      height: 1080,
    });
    expect(sanitizeWindowState({ x: 10, y: -500, width: 900, height: 600 }, screen)).toEqual({
      width: 900,
      height: 600,
    });
  });
  it('falls back to defaults on garbage', () => {
    expect(sanitizeWindowState('nope', screen)).toEqual(defaultWindowState);
    expect(sanitizeWindowState({ width: 'wide', height: NaN }, screen)).toEqual(defaultWindowState);
  });
});

describe('load/save', () => {
  it('round-trips through an atomic write and leaves no temp files', async () => {
    const file = join(dir, 'sub', 'window-state.json');
    await saveWindowState(file, { x: 50, y: 60, width: 1100, height: 750 });
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ x: 50, y: 60, width: 1100, height: 750 });
    expect(await readdir(join(dir, 'sub'))).toEqual(['window-state.json']);
    expect(await loadWindowState(file, screen)).toEqual({ x: 50, y: 60, width: 1100, height: 750 });
  });
  it('survives a missing or torn file', async () => {
    expect(await loadWindowState(join(dir, 'missing.json'), screen)).toEqual(defaultWindowState);
    await writeFile(join(dir, 'torn.json'), '{"x": 1, "wid');
    expect(await loadWindowState(join(dir, 'torn.json'), screen)).toEqual(defaultWindowState);
  });
});
