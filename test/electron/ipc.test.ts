import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi, type Mock } from 'vitest';
import { channels } from '../../src-main/electron/channels.js';
import { createIpcHandlers, registerIpc, type IpcDeps } from '../../src-main/electron/ipc.js';
import { PathGrants } from '../../src-main/electron/path-grants.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rank1-ipc-'));
  await writeFile(join(dir, 'cat.png'), 'x');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const mainFrame = { url: 'app://rank1/index.html', parent: null };
const webContents = { mainFrame };
const win = { webContents } as any;
const ok = { sender: webContents, senderFrame: mainFrame } as any;
const foreignFrame = { url: 'https://evil.example/', parent: null };
const foreign = { sender: { mainFrame: foreignFrame }, senderFrame: foreignFrame } as any;

let deps: IpcDeps & {
  engine: {
    call: Mock<(op: string, args?: unknown) => Promise<unknown>>;
    grant: Mock<(path: string) => void>;
  };
};
beforeEach(() => {
  deps = {
    window: () => win,
    engine: {
      call: vi.fn(async (op: string, _args?: unknown): Promise<unknown> => ({ op })),
      grant: vi.fn((_path: string) => {}),
    },
    grants: new PathGrants(false),
    showOpenDialog: vi.fn(async () => ({ canceled: false, filePaths: [dir] })),
    showSaveDialog: vi.fn(async () => ({ canceled: false, filePath: join(dir, 'model.rank1.zip') })),
  };
});

describe('call', () => {
  it('forwards a valid call from our window to the engine', async () => {
    const h = createIpcHandlers(deps);
    expect(await h.call(ok, { op: 'system.info', args: {} })).toEqual({
      ok: true,
      result: { op: 'system.info' },
    });
    expect(deps.engine.call).toHaveBeenCalledWith('system.info', {});
  });

  it('refuses calls from any other frame before they reach the engine', async () => {
    const h = createIpcHandlers(deps);
    const r = await h.call(foreign, { op: 'system.info', args: {} });
    expect(r).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    const sub = await h.call(
      { sender: webContents, senderFrame: { url: 'app://rank1/x', parent: mainFrame } } as any,
      { op: 'system.info', args: {} },
    );
    expect(sub).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    const noWindow = await createIpcHandlers({ ...deps, window: () => null }).call(ok, {
      op: 'system.info',
      args: {},
    });
    expect(noWindow).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(deps.engine.call).not.toHaveBeenCalled();
  });

  it('validates operations and arguments against the contract', async () => {
    const h = createIpcHandlers(deps);
    expect(await h.call(ok, { op: 'fs.readFile', args: {} })).toMatchObject({
      ok: false,
      error: { code: 'unknown-operation' },
    });
    expect(await h.call(ok, { op: 'models.get', args: { id: '../../etc' } })).toMatchObject({
      ok: false,
      error: { code: 'bad-request', field: 'id' },
    });
    expect(await h.call(ok, null)).toMatchObject({ ok: false, error: { code: 'bad-request' } });
    expect(deps.engine.call).not.toHaveBeenCalled();
  });

  it('refuses paths the user did not grant, and accepts them once picked', async () => {
    const h = createIpcHandlers(deps);
    const scan = { op: 'datasets.scan', args: { path: dir } };
    expect(await h.call(ok, scan)).toMatchObject({ ok: false, error: { code: 'forbidden', field: 'path' } });
    expect(await h.pickFolder(ok)).toBe(dir);
    expect(deps.engine.grant).toHaveBeenCalledWith(dir);
    expect(await h.call(ok, scan)).toMatchObject({ ok: true });
    expect(await h.call(ok, { op: 'datasets.scan', args: { path: '/etc' } })).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
  });

  it('passes engine errors back as typed shapes', async () => {
    deps.engine.call.mockRejectedValueOnce(Object.assign(new Error('gone'), { code: 'engine-crashed' }));
    const r = await createIpcHandlers(deps).call(ok, { op: 'system.info', args: {} });
    expect(r).toEqual({ ok: false, error: { code: 'engine-crashed', message: 'gone' } });
  });
});

describe('pickers and drops', () => {
  it('grants nothing when a dialog is cancelled or the sender is foreign', async () => {
    deps.showOpenDialog = vi.fn(async () => ({ canceled: true, filePaths: [] }));
    const h = createIpcHandlers(deps);
    expect(await h.pickFolder(ok)).toBeNull();
    expect(await h.pickFiles(ok)).toEqual([]);
    await expect(h.pickFolder(foreign)).rejects.toThrow(/refused/);
    expect(deps.grants.size).toBe(0);
    expect(deps.engine.grant).not.toHaveBeenCalled();
  });

  it('grants picked files and save targets', async () => {
    deps.showOpenDialog = vi.fn(async () => ({ canceled: false, filePaths: [join(dir, 'cat.png')] }));
    const h = createIpcHandlers(deps);
    expect(await h.pickFiles(ok)).toEqual([join(dir, 'cat.png')]);
    expect(await h.pickSave(ok, '../evil/name.zip')).toBe(join(dir, 'model.rank1.zip'));
    expect(deps.showSaveDialog).toHaveBeenCalledWith(
      win,
      expect.objectContaining({ defaultPath: '.._evil_name.zip' }),
    );
    expect(deps.grants.isGranted(join(dir, 'model.rank1.zip'))).toBe(true);
  });

  it('confirms a dropped path exists before granting it', async () => {
    const h = createIpcHandlers(deps);
    expect(await h.grantDrop(ok, join(dir, 'cat.png'))).toBe(true);
    expect(deps.grants.isGranted(join(dir, 'cat.png'))).toBe(true);
    expect(deps.engine.grant).toHaveBeenCalledWith(join(dir, 'cat.png'));
    expect(await h.grantDrop(ok, join(dir, 'missing.png'))).toBe(false);
    expect(await h.grantDrop(ok, 'relative.png')).toBe(false);
    expect(await h.grantDrop(ok, 42)).toBe(false);
    await expect(h.grantDrop(foreign, join(dir, 'cat.png'))).rejects.toThrow(/refused/);
    expect(deps.grants.isGranted(dir)).toBe(false);
  });
});

it('registers exactly the bridge channels', () => {
  const handle = vi.fn();
  registerIpc({ handle } as any, createIpcHandlers(deps));
  expect(handle.mock.calls.map((c) => c[0]).sort()).toEqual(
    [channels.call, channels.pickFolder, channels.pickFiles, channels.pickSave, channels.grantDrop].sort(),
  );
});
