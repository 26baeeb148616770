/**
 * The pure half of the security decisions (no Electron at runtime, only its types): the app
 * origin, window options, CSP, navigation and link policy, and the IPC sender check. security.ts
 * adds the parts that call Electron.
 */
import type { BrowserWindowConstructorOptions, IpcMainInvokeEvent, WebContents } from 'electron';

/** The renderer is served only from this origin (a privileged standard scheme), never file://. */
export const APP_SCHEME = 'app';
export const APP_HOST = 'rank1';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_ENTRY = `${APP_ORIGIN}/index.html`;

export function windowOptions(
  preload: string,
  bounds: Partial<Pick<Electron.Rectangle, 'x' | 'y' | 'width' | 'height'>> = {},
): BrowserWindowConstructorOptions {
  return {
    width: 1280,
    height: 820,
    ...bounds,
    minWidth: 800,
    minHeight: 560,
    title: 'Rank-1 Studio',
    show: false, // shown on ready-to-show, so no white flash
    webPreferences: {
      preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      navigateOnDragDrop: false, // a dropped file must not replace the app page
      spellcheck: false,
      safeDialogs: true,
    },
  };
}

export function contentSecurityPolicy(): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'", // Svelte transitions and component styles
    "img-src 'self' data: blob:", // thumbnails arrive as data: URLs
    "font-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-src 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Headers on every app:// response, errors included. */
export function securityHeaders(): Record<string, string> {
  return {
    'Content-Security-Policy': contentSecurityPolicy(),
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
  };
}

function parse(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

/** True for a page of our own origin (reloads, hash routes); everything else is refused. */
export function isAppUrl(url: string): boolean {
  const u = parse(url);
  return !!u && u.protocol === `${APP_SCHEME}:` && u.host === APP_HOST && !u.username && !u.password;
}

/** In-window navigation is allowed only within the app itself. */
export function isAllowedNavigation(url: string): boolean {
  return isAppUrl(url);
}

/** A link the system browser may open: http(s) only, no credentials, bounded. Null otherwise. */
export function safeExternalUrl(url: unknown): string | null {
  if (typeof url !== 'string' || url.length > 2048) return null;
  const u = parse(url);
  if (!u || (u.protocol !== 'https:' && u.protocol !== 'http:')) return null;
  if (u.username || u.password || !u.hostname) return null;
  return u.href;
}

/** The parts of an IPC event the sender check reads. */
export type SenderEvent = Pick<IpcMainInvokeEvent, 'sender' | 'senderFrame'>;

/**
 * An IPC call is served only from the main frame of our window, showing our own origin: not from
 * a subframe, another window, or a page that navigated elsewhere.
 */
export function checkSender(
  event: SenderEvent,
  win: { webContents: WebContents } | null | undefined,
): boolean {
  if (!win) return false;
  const frame = event.senderFrame;
  if (!frame || event.sender !== win.webContents) return false;
  if (frame !== win.webContents.mainFrame || frame.parent) return false;
  return isAppUrl(frame.url);
}
