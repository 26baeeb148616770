/**
 * Settings persisted as `settings.json` in the data home. A missing file gives the defaults; a
 * corrupt one is kept as `settings.json.bak` and the defaults are used.
 */
import { promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { defaultSettings, settingsSchema, type Settings } from '../common/index.js';
import { writeFileAtomic } from './atomic.js';

export function settingsFile(home: string): string {
  return nodePath.join(home, 'settings.json');
}

export async function loadSettings(home: string): Promise<Settings> {
  const file = settingsFile(home);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { ...defaultSettings };
    throw e;
  }
  try {
    // Keys added by a later version default; anything invalid counts as corrupt.
    return settingsSchema.parse({ ...defaultSettings, ...(JSON.parse(text) as object) });
  } catch {
    await fs.rename(file, `${file}.bak`).catch(() => undefined);
    return { ...defaultSettings };
  }
}

export async function saveSettings(home: string, settings: Settings): Promise<Settings> {
  const valid = settingsSchema.parse(settings);
  await writeFileAtomic(settingsFile(home), JSON.stringify(valid, null, 2));
  return valid;
}

/** Serialises updates so two concurrent `set`s cannot lose each other's keys. */
export class SettingsStore {
  private current: Promise<Settings> | undefined;
  constructor(private readonly home: string) {}

  get(): Promise<Settings> {
    this.current ??= loadSettings(this.home);
    return this.current;
  }

  set(patch: Partial<Settings>): Promise<Settings> {
    const next = this.get().then((s) => saveSettings(this.home, { ...s, ...patch }));
    // A failed save keeps the previous settings in memory.
    this.current = next.catch(() => loadSettings(this.home));
    return next;
  }
}
