/**
 * End-to-end: launches the built app in a real Electron with Playwright's `_electron`. Runs only
 * when ELECTRON_OVERRIDE_DIST_PATH names an Electron binary (or the folder holding one); otherwise
 * it says so and skips. Needs `npm run build`, and a display (xvfb-run on a headless Linux).
 */
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { _electron, type ElectronApplication, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BRIDGE_METHODS, ensureMainBuilt, root } from './helpers.js';

function electronBinary(dist: string): string {
  if (existsSync(dist) && statSync(dist).isFile()) return dist;
  if (process.platform === 'darwin') return join(dist, 'Electron.app', 'Contents', 'MacOS', 'Electron');
  return join(dist, process.platform === 'win32' ? 'electron.exe' : 'electron');
}

const dist = process.env.ELECTRON_OVERRIDE_DIST_PATH;
const binary = dist ? electronBinary(dist) : undefined;
const skipReason = !dist
  ? 'ELECTRON_OVERRIDE_DIST_PATH is not set, so there is no Electron binary to launch (none can be downloaded here)'
  : !existsSync(binary!)
    ? `ELECTRON_OVERRIDE_DIST_PATH is set but ${binary} does not exist`
    : !existsSync(join(root, 'dist', 'renderer', 'index.html'))
      ? 'dist/renderer/index.html is missing: run `npm run build` first'
      : undefined;
if (skipReason) console.log(`[electron e2e] SKIPPED: ${skipReason}.`);
const skip = !!skipReason;

let app: ElectronApplication | undefined;
let page: Page;
let profile: string;

beforeAll(async () => {
  if (skip) return;
  await ensureMainBuilt();
  profile = await mkdtemp(join(tmpdir(), 'rank1-e2e-'));
  app = await _electron.launch({
    executablePath: binary!,
    // A CI container without user namespaces may need the OS sandbox off; the app's own settings stay on.
    args: [root, ...(process.env.RANK1_E2E_NO_SANDBOX ? ['--no-sandbox'] : [])],
    env: {
      ...process.env,
      RANK1_USER_DATA: join(profile, 'user-data'),
      RANK1_HOME: join(profile, 'home'),
    } as Record<string, string>,
    timeout: 90_000,
  });
  page = await app.firstWindow();
  await page.waitForLoadState('domcontentloaded');
}, 180_000);

afterAll(async () => {
  await app?.close().catch(() => {});
  if (profile) await rm(profile, { recursive: true, force: true });
});

describe('desktop app (Playwright _electron)', () => {
  it.skipIf(skip)('shows the renderer from app:// in an isolated, sandboxed page', async () => {
    expect(page.url()).toBe('app://rank1/index.html');
    expect(await page.title()).toBe('Rank-1 Studio');
    expect(
      await page.evaluate(() => [
        typeof (window as any).require,
        typeof (window as any).process,
        typeof (window as any).ipcRenderer,
      ]),
    ).toEqual(['undefined', 'undefined', 'undefined']);
    expect(await page.evaluate(() => Object.keys((window as any).rank1).sort())).toEqual(BRIDGE_METHODS);
    // Sandboxed renderer: no Node in the preload's world either, so no `require` leaks even by mistake.
    expect(await page.evaluate(() => typeof (globalThis as any).Buffer)).toBe('undefined');
  });

  it.skipIf(skip)('sends the Content-Security-Policy header', async () => {
    const csp = await page.evaluate(async () =>
      (await fetch('/index.html')).headers.get('content-security-policy'),
    );
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("object-src 'none'");
    const traversal = await page.evaluate(
      async () => (await fetch('/assets/%2e%2e%2f%2e%2e%2fpackage.json')).status,
    );
    expect(traversal).toBe(403);
  });

  it.skipIf(skip)('blocks navigation, new windows and permission requests', async () => {
    await page.evaluate(() => {
      location.href = 'file:///etc/hosts';
    });
    await page.waitForTimeout(500);
    expect(page.url()).toBe('app://rank1/index.html');
    expect(await page.evaluate(() => window.open('file:///etc/hosts') === null)).toBe(true);
    expect(app!.windows()).toHaveLength(1);
    expect(await page.evaluate(() => Notification.requestPermission())).toBe('denied');
  });

  it.skipIf(skip)(
    'talks to the engine in the utility process, and refuses paths the user did not choose',
    async () => {
      const info = await page.evaluate(() => (window as any).rank1.call('system.info', {}));
      expect(info).toHaveProperty('versions');
      const refused = await page.evaluate(() =>
        (window as any).rank1.call('datasets.scan', { path: '/etc' }).then(
          () => null,
          (e: any) => e.code,
        ),
      );
      expect(refused).toBe('forbidden');
      const metrics = await app!.evaluate(({ app }) => app.getAppMetrics().map((m) => m.name ?? m.type));
      expect(metrics).toContain('Rank-1 Engine');
    },
  );
});
