/** The application menu, as a template builder so its items and accelerators are testable. */
import type { MenuItemConstructorOptions } from 'electron';

export interface MenuActions {
  importDataset(): void;
  openModel(): void;
  exportModel(): void;
  about(): void;
}

export function menuTemplate(
  actions: MenuActions,
  opts: { platform: NodeJS.Platform; dev: boolean; appName: string },
): MenuItemConstructorOptions[] {
  const mac = opts.platform === 'darwin';
  const file: MenuItemConstructorOptions = {
    label: '&File',
    submenu: [
      {
        id: 'import-dataset',
        label: 'Import Dataset…',
        accelerator: 'CmdOrCtrl+I',
        click: () => actions.importDataset(),
      },
      {
        id: 'open-model',
        label: 'Open Model…',
        accelerator: 'CmdOrCtrl+O',
        click: () => actions.openModel(),
      },
      { id: 'export', label: 'Export…', accelerator: 'CmdOrCtrl+E', click: () => actions.exportModel() },
      { type: 'separator' },
      mac ? { role: 'close' } : { role: 'quit' },
    ],
  };
  const view: MenuItemConstructorOptions = {
    label: '&View',
    submenu: [
      { role: 'reload' },
      ...(opts.dev ? [{ role: 'toggleDevTools' } as MenuItemConstructorOptions] : []),
      { type: 'separator' },
      { role: 'resetZoom' },
      { role: 'zoomIn' },
      { role: 'zoomOut' },
      { type: 'separator' },
      { role: 'togglefullscreen' },
    ],
  };
  const about: MenuItemConstructorOptions = {
    id: 'about',
    label: `About ${opts.appName}`,
    click: () => actions.about(),
  };
  return [
    ...(mac
      ? [
          {
            label: opts.appName,
            submenu: [
              about,
              { type: 'separator' },
              { role: 'hide' },
              { role: 'hideOthers' },
              { role: 'unhide' },
              { type: 'separator' },
              { role: 'quit' },
            ],
          } as MenuItemConstructorOptions,
        ]
      : []),
    file,
    { role: 'editMenu' },
    view,
    { role: 'windowMenu' },
    { role: 'help', submenu: mac ? [] : [about] },
  ];
}
