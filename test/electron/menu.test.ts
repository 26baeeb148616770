import { describe, expect, it, vi } from 'vitest';
import type { MenuItemConstructorOptions } from 'electron';
import { menuTemplate } from '../../src-main/electron/menu.js';

function items(t: MenuItemConstructorOptions[]): MenuItemConstructorOptions[] {
  return t.flatMap((i) => [i, ...(Array.isArray(i.submenu) ? items(i.submenu) : [])]);
}

describe('menuTemplate', () => {
  const actions = { importDataset: vi.fn(), openModel: vi.fn(), exportModel: vi.fn(), about: vi.fn() };

  it('has Import dataset, Open model, Export and About wired to their actions', () => {
    const all = items(menuTemplate(actions, { platform: 'linux', dev: false, appName: 'Rank-1 Studio' }));
    const byId = (id: string) => all.find((i) => i.id === id)!;
    for (const [id, fn] of [
      ['import-dataset', actions.importDataset],
      ['open-model', actions.openModel],
      ['export', actions.exportModel],
      ['about', actions.about],
    ] as const) {
      (byId(id).click as () => void)();
      expect(fn).toHaveBeenCalledOnce();
    }
    expect(byId('import-dataset').label).toBe('Import Dataset…');
    expect(all.some((i) => i.role === 'toggleDevTools')).toBe(false);
  });

  it('offers dev tools only in development, and an app menu on macOS', () => {
    expect(
      items(menuTemplate(actions, { platform: 'linux', dev: true, appName: 'X' })).some(
        (i) => i.role === 'toggleDevTools',
      ),
    ).toBe(true);
    const mac = menuTemplate(actions, { platform: 'darwin', dev: false, appName: 'Rank-1 Studio' });
    expect(mac[0]!.label).toBe('Rank-1 Studio');
  });
});
