import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultSettings, settingsSchema } from '../../src-main/contract.js';

/** The service hands the contract's settings to the store. */
const spec = { schema: settingsSchema, defaults: defaultSettings };
import {
  SettingsStore,
  loadSettings,
  saveSettings,
  settingsFile,
  writeFileAtomic,
} from '../../src-main/store/index.js';

let home: string;
beforeEach(async () => {
  home = await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-settings-'));
});
afterEach(() => fs.rm(home, { recursive: true, force: true }));

describe('settings', () => {
  it('defaults when the file is missing', async () => {
    expect(await loadSettings(home, spec)).toEqual(defaultSettings);
  });

  it('persists and reloads', async () => {
    await saveSettings(home, spec, { ...defaultSettings, theme: 'dark', uncertainFraction: 0.3 });
    expect(await loadSettings(home, spec)).toMatchObject({ theme: 'dark', uncertainFraction: 0.3 });
    expect(await fs.readdir(home)).toEqual(['settings.json']);
  });

  it('keeps a corrupt file as .bak and uses the defaults', async () => {
    await fs.writeFile(settingsFile(home), '{"theme": "dar');
    expect(await loadSettings(home, spec)).toEqual(defaultSettings);
    expect(await fs.readFile(`${settingsFile(home)}.bak`, 'utf8')).toBe('{"theme": "dar');
  });

  it('keeps every corrupt file: a later one never replaces an earlier backup', async () => {
    const versions = ['{"theme": "dar', '{"theme": "neon"}', 'not json at all'];
    for (const text of versions) {
      await fs.writeFile(settingsFile(home), text);
      expect(await loadSettings(home, spec)).toEqual(defaultSettings);
    }
    const names = (await fs.readdir(home)).sort();
    expect(names).toEqual(['settings.json.1.bak', 'settings.json.2.bak', 'settings.json.bak']);
    const kept = await Promise.all(
      ['settings.json.bak', 'settings.json.1.bak', 'settings.json.2.bak'].map((n) =>
        fs.readFile(path.join(home, n), 'utf8'),
      ),
    );
    expect(kept).toEqual(versions);
  });

  it('treats invalid values as corrupt', async () => {
    await fs.writeFile(settingsFile(home), JSON.stringify({ theme: 'neon' }));
    expect(await loadSettings(home, spec)).toEqual(defaultSettings);
    await expect(fs.stat(`${settingsFile(home)}.bak`)).resolves.toBeTruthy();
  });

  it('fills keys missing from an older file', async () => {
    await fs.writeFile(settingsFile(home), JSON.stringify({ theme: 'light' }));
    expect(await loadSettings(home, spec)).toEqual({ ...defaultSettings, theme: 'light' });
  });

  it('serialises concurrent updates', async () => {
    const store = new SettingsStore(home, spec);
    await Promise.all([store.set({ theme: 'dark' }), store.set({ uncertainFraction: 0.2 })]);
    expect(await new SettingsStore(home, spec).get()).toMatchObject({
      theme: 'dark',
      uncertainFraction: 0.2,
    });
  });

  it('refuses an invalid value without changing the file', async () => {
    const store = new SettingsStore(home, spec);
    await store.set({ theme: 'dark' });
    await expect(store.set({ uncertainFraction: 7 })).rejects.toThrow();
    expect(await store.get()).toMatchObject({
      theme: 'dark',
      uncertainFraction: defaultSettings.uncertainFraction,
    });
  });
});

describe('writeFileAtomic', () => {
  it('replaces the whole file and leaves no temporaries', async () => {
    const file = path.join(home, 'a', 'b.txt');
    await writeFileAtomic(file, 'one');
    await writeFileAtomic(file, 'two');
    expect(await fs.readFile(file, 'utf8')).toBe('two');
    expect(await fs.readdir(path.join(home, 'a'))).toEqual(['b.txt']);
  });
});
