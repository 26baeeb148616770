import { beforeEach, describe, expect, it, vi } from 'vitest';

const openExternal = vi.fn(async (_url: string) => {});
vi.mock('electron', () => ({ shell: { openExternal: (url: string) => openExternal(url) } }));

const {
  APP_ENTRY,
  checkSender,
  contentSecurityPolicy,
  hardenContents,
  isAllowedNavigation,
  openExternalSafely,
  permissionCheckHandler,
  permissionRequestHandler,
  safeExternalUrl,
  securityHeaders,
  windowOptions,
} = await import('../../src-main/electron/security.js');

beforeEach(() => openExternal.mockClear());

describe('windowOptions', () => {
  it('isolates, sandboxes and keeps web security on', () => {
    const o = windowOptions('/app/preload.cjs');
    expect(o.webPreferences).toMatchObject({
      preload: '/app/preload.cjs',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      navigateOnDragDrop: false,
    });
    expect(o.webPreferences).not.toHaveProperty('enableBlinkFeatures');
    expect(o.show).toBe(false);
  });

  it('takes remembered bounds but never lets them touch webPreferences', () => {
    const o = windowOptions('/p.cjs', { x: 10, y: 20, width: 900, height: 700 });
    expect(o).toMatchObject({ x: 10, y: 20, width: 900, height: 700 });
    expect(o.webPreferences?.sandbox).toBe(true);
  });
});

describe('contentSecurityPolicy', () => {
  const csp = contentSecurityPolicy();
  const directives = new Map(
    csp
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .map(([k, ...v]) => [k!, v]),
  );

  it('allows only our own scripts: no inline, no eval, no remote', () => {
    expect(directives.get('script-src')).toEqual(["'self'"]);
    expect(csp).not.toMatch(/unsafe-eval|https?:|\*/);
    expect(directives.get('default-src')).toEqual(["'self'"]);
  });

  it("allows only our own stylesheets: no 'unsafe-inline' for styles either", () => {
    expect(directives.get('style-src')).toEqual(["'self'"]);
    expect(csp).not.toMatch(/unsafe-inline/);
  });

  it('locks down objects, base, framing and connections', () => {
    expect(directives.get('object-src')).toEqual(["'none'"]);
    expect(directives.get('base-uri')).toEqual(["'none'"]);
    expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
    expect(directives.get('connect-src')).toEqual(["'self'"]);
    expect(directives.get('img-src')).toEqual(["'self'", 'data:', 'blob:']);
  });

  it('is sent with nosniff on every response', () => {
    expect(securityHeaders()).toMatchObject({
      'Content-Security-Policy': csp,
      'X-Content-Type-Options': 'nosniff',
    });
  });
});

describe('navigation', () => {
  it('allows only our app:// origin', () => {
    expect(isAllowedNavigation(APP_ENTRY)).toBe(true);
    expect(isAllowedNavigation('app://rank1/index.html#/models')).toBe(true);
    for (const url of [
      'https://example.com/',
      'http://localhost:5173/',
      'file:///etc/passwd',
      'app://evil/index.html',
      'app://user:pw@rank1/index.html',
      'javascript:alert(1)',
      'data:text/html,hi',
      'not a url',
    ]) {
      expect(isAllowedNavigation(url), url).toBe(false);
    }
  });

  const PAPER = 'https://arxiv.org/abs/2005.07186';

  it('opens only the allowlisted pages externally: the paper (the project has no public docs site)', () => {
    for (const good of [PAPER, 'https://arxiv.org/abs/2005.07186v2', 'https://arxiv.org/pdf/2005.07186'])
      expect(safeExternalUrl(good), good).toBe(new URL(good).href);
    for (const bad of [
      'https://github.com/x',
      'https://github.com/rank1-studio/rank1-studio#readme',
      'http://example.com',
      'https://example.com/doc',
      'http://arxiv.org/abs/2005.07186', // not https
      'https://arxiv.org/abs/2005.071860',
      'https://arxiv.org/abs/1234.5678',
      'https://github.com/rank1-studio/rank1-studio-evil',
      'https://github.com.evil.example/rank1-studio/rank1-studio',
      'https://arxiv.org:8443/abs/2005.07186',
      'https://u:p@arxiv.org/abs/2005.07186',
      'file:///etc/passwd',
      'javascript:alert(1)',
      'smb://host/share',
      'ms-settings:',
      42,
      null,
      `https://arxiv.org/abs/2005.07186?${'a'.repeat(3000)}`,
    ]) {
      expect(safeExternalUrl(bad), String(bad)).toBeNull();
    }
    expect(openExternalSafely('file:///bin/sh')).toBe(false);
    expect(openExternalSafely('https://example.com/doc')).toBe(false);
    expect(openExternal).not.toHaveBeenCalled();
    expect(openExternalSafely(PAPER)).toBe(true);
    expect(openExternal).toHaveBeenCalledWith(PAPER);
  });

  function fakeContents() {
    const handlers = new Map<string, (...a: any[]) => void>();
    let openHandler: ((d: { url: string }) => { action: string }) | undefined;
    const contents = {
      on: vi.fn((ev: string, fn: (...a: any[]) => void) => handlers.set(ev, fn)),
      setWindowOpenHandler: vi.fn((fn: typeof openHandler) => (openHandler = fn)),
    };
    hardenContents(contents as any);
    const event = () => ({ preventDefault: vi.fn() });
    return { handlers, open: (url: string) => openHandler!({ url }), event };
  }

  it('denies navigation away and sends only allowlisted links to the system browser', () => {
    const { handlers, event } = fakeContents();
    const away = event();
    handlers.get('will-navigate')!(away, PAPER);
    expect(away.preventDefault).toHaveBeenCalled();
    expect(openExternal).toHaveBeenCalledWith(PAPER);

    const other = event();
    handlers.get('will-navigate')!(other, 'https://example.com/');
    expect(other.preventDefault).toHaveBeenCalled();

    const file = event();
    handlers.get('will-navigate')!(file, 'file:///etc/passwd');
    expect(file.preventDefault).toHaveBeenCalled();
    expect(openExternal).toHaveBeenCalledTimes(1);

    const own = event();
    handlers.get('will-navigate')!(own, 'app://rank1/index.html');
    expect(own.preventDefault).not.toHaveBeenCalled();

    const redirect = event();
    handlers.get('will-redirect')!(redirect, 'https://evil.example/');
    expect(redirect.preventDefault).toHaveBeenCalled();

    const frame = { url: 'https://evil.example/', preventDefault: vi.fn() };
    handlers.get('will-frame-navigate')!(frame);
    expect(frame.preventDefault).toHaveBeenCalled();

    const webview = event();
    handlers.get('will-attach-webview')!(webview);
    expect(webview.preventDefault).toHaveBeenCalled();
  });

  it('denies every new window', () => {
    const { open } = fakeContents();
    expect(open(PAPER)).toEqual({ action: 'deny' });
    expect(openExternal).toHaveBeenCalledWith(PAPER);
    expect(open('https://example.com/')).toEqual({ action: 'deny' });
    expect(open('app://rank1/index.html')).toEqual({ action: 'deny' });
    expect(open('file:///etc/passwd')).toEqual({ action: 'deny' });
    expect(openExternal).toHaveBeenCalledTimes(1);
  });
});

describe('permissions', () => {
  it('denies every request and check', () => {
    for (const p of [
      'media',
      'geolocation',
      'notifications',
      'clipboard-read',
      'openExternal',
      'fullscreen',
    ]) {
      const cb = vi.fn();
      permissionRequestHandler(null, p, cb);
      expect(cb).toHaveBeenCalledWith(false);
    }
    expect(permissionCheckHandler()).toBe(false);
  });
});

describe('checkSender', () => {
  const mainFrame = { url: 'app://rank1/index.html', parent: null };
  const webContents = { mainFrame };
  const win = { webContents } as any;

  it('accepts the main frame of our window on our origin', () => {
    expect(checkSender({ sender: webContents, senderFrame: mainFrame } as any, win)).toBe(true);
  });

  it('refuses other windows, subframes, foreign origins and missing frames', () => {
    const otherContents = { mainFrame: { url: 'app://rank1/index.html', parent: null } };
    expect(checkSender({ sender: otherContents, senderFrame: otherContents.mainFrame } as any, win)).toBe(
      false,
    );
    const sub = { url: 'app://rank1/index.html', parent: mainFrame };
    expect(checkSender({ sender: webContents, senderFrame: sub } as any, win)).toBe(false);
    const navigated = { webContents: { mainFrame: { url: 'https://evil.example/', parent: null } } } as any;
    expect(
      checkSender(
        { sender: navigated.webContents, senderFrame: navigated.webContents.mainFrame } as any,
        navigated,
      ),
    ).toBe(false);
    const fileWin = { webContents: { mainFrame: { url: 'file:///app/index.html', parent: null } } } as any;
    expect(
      checkSender(
        { sender: fileWin.webContents, senderFrame: fileWin.webContents.mainFrame } as any,
        fileWin,
      ),
    ).toBe(false);
    expect(checkSender({ sender: webContents, senderFrame: null } as any, win)).toBe(false);
    expect(checkSender({ sender: webContents, senderFrame: mainFrame } as any, null)).toBe(false);
  });
});
