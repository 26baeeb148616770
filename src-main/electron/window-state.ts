/**
 * The main window's bounds, remembered in a small JSON file in userData. Written atomically
 * (temp file + rename) so a crash mid-write never leaves a torn file; read defensively.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface WindowState {
  x?: number;
  y?: number;
  width: number;
  height: number;
  maximized?: boolean;
}
export interface Area {
  x: number;
  y: number;
  width: number;
  height: number;
}

export const defaultWindowState: WindowState = { width: 1280, height: 820 };
const MIN_W = 800;
const MIN_H = 560;

const int = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? Math.round(v) : undefined;

/**
 * A usable state from whatever was saved: sizes clamped to the largest display, and the position
 * dropped when the window would not be visible on any display (a monitor was unplugged).
 */
export function sanitizeWindowState(saved: unknown, workAreas: Area[]): WindowState {
  if (typeof saved !== 'object' || saved === null) return { ...defaultWindowState };
  const s = saved as Record<string, unknown>;
  const maxW = Math.max(MIN_W, ...workAreas.map((a) => a.width));
  const maxH = Math.max(MIN_H, ...workAreas.map((a) => a.height));
  const width = Math.min(Math.max(int(s.width) ?? defaultWindowState.width, MIN_W), maxW);
  const height = Math.min(Math.max(int(s.height) ?? defaultWindowState.height, MIN_H), maxH);
  const state: WindowState = { width, height, ...(s.maximized === true ? { maximized: true } : {}) };
  const x = int(s.x);
  const y = int(s.y);
  if (x !== undefined && y !== undefined) {
    // Visible when at least 100×50 px of the title-bar region lies on some display.
    const visible = workAreas.some(
      (a) => x + width - 100 >= a.x && x + 100 <= a.x + a.width && y >= a.y - 10 && y + 50 <= a.y + a.height,
    );
    if (visible) Object.assign(state, { x, y });
  }
  return state;
}

export async function loadWindowState(file: string, workAreas: Area[]): Promise<WindowState> {
  try {
    return sanitizeWindowState(JSON.parse(await readFile(file, 'utf8')), workAreas);
  } catch {
    return sanitizeWindowState(null, workAreas);
  }
}

export async function saveWindowState(file: string, state: WindowState): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, JSON.stringify(state), 'utf8');
  await rename(tmp, file);
}
