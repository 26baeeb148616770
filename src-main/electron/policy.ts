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
    // Svelte's component styles are built into a stylesheet and its style: directives and
    // transitions go through the CSSOM (element.style, Web Animations), which CSP allows.
    "style-src 'self'",
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

/**
 * The only pages the app hands to the system browser: the paper
 * (Dusenberry et al. 2020, arXiv 2005.07186). Each is https, an exact host and a path pattern. Anything else a page asks to open (a link in a dataset's file name,
 * an injected script) is refused, so the renderer cannot launch arbitrary URLs.
 */
export const EXTERNAL_LINKS: readonly { host: string; path: RegExp }[] = [
  { host: 'arxiv.org', path: /^\/(?:abs|pdf)\/2005\.07186(?:v\d+)?$/ },
];

/** A link the system browser may open: an allowlisted https page (EXTERNAL_LINKS), bounded. Null otherwise. */
export function safeExternalUrl(url: unknown): string | null {
  if (typeof url !== 'string' || url.length > 2048) return null;
  const u = parse(url);
  if (!u || u.protocol !== 'https:' || u.username || u.password || u.port) return null;
  const allowed = EXTERNAL_LINKS.some((l) => u.hostname === l.host && l.path.test(u.pathname));
  return allowed ? u.href : null;
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
