/**
 * Settings persisted as `settings.json` in the data home. A missing file gives the defaults; a
 * corrupt one is kept as `settings.json.bak` (then `settings.json.1.bak`, …: an earlier backup is
 * never replaced) and the defaults are used. What settings are (their
 * schema and defaults) is the contract's to say; the service hands them in, so the store does not
 * import the contract (issue 14).
 */
import { constants as fsConstants, promises as fs } from 'node:fs';
import * as nodePath from 'node:path';
import { writeFileAtomic } from './atomic.js';

/** The shape of the settings: a parser that throws on invalid input (a zod schema) and defaults. */
export interface SettingsSpec<T extends object> {
  schema: { parse(value: unknown): T };
  defaults: T;
}

export function settingsFile(home: string): string {
  return nodePath.join(home, 'settings.json');
}

export async function loadSettings<T extends object>(home: string, spec: SettingsSpec<T>): Promise<T> {
  const { schema, defaults } = spec;
  const file = settingsFile(home);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { ...defaults };
    throw e;
  }
  try {
    // Keys added by a later version default; anything invalid counts as corrupt.
    return schema.parse({ ...defaults, ...(JSON.parse(text) as object) });
  } catch {
    await keepCorrupt(file).catch(() => undefined);
    return { ...defaults };
  }
}

/**
 * Move a corrupt settings file aside under the first free backup name. The copy refuses an
 * existing name (COPYFILE_EXCL), so two corrupt files in a row both survive; the original is
 * removed only once its copy is whole.
 */
async function keepCorrupt(file: string): Promise<void> {
  for (let n = 0; n < 1000; n++) {
    const backup = n === 0 ? `${file}.bak` : `${file}.${n}.bak`;
    try {
      await fs.copyFile(file, backup, fsConstants.COPYFILE_EXCL);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw e;
    }
    await fs.rm(file);
    return;
  }
}

export async function saveSettings<T extends object>(
  home: string,
  spec: SettingsSpec<T>,
  settings: T,
): Promise<T> {
  const valid = spec.schema.parse(settings);
  await writeFileAtomic(settingsFile(home), JSON.stringify(valid, null, 2));
  return valid;
}

/** Serialises updates so two concurrent `set`s cannot lose each other's keys. */
export class SettingsStore<T extends object> {
  private current: Promise<T> | undefined;
  constructor(
    private readonly home: string,
    private readonly spec: SettingsSpec<T>,
  ) {}

  get(): Promise<T> {
    this.current ??= loadSettings(this.home, this.spec);
    return this.current;
  }

  set(patch: Partial<T>): Promise<T> {
    const next = this.get().then((s) => saveSettings(this.home, this.spec, { ...s, ...patch }));
    // A failed save keeps the previous settings in memory.
    this.current = next.catch(() => loadSettings(this.home, this.spec));
    return next;
  }
}
