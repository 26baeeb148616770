/**
 * Every security decision of the desktop shell, as small functions so they can be unit-tested
 * with `electron` mocked: window options, CSP, navigation, external links, permissions and the
 * sender check of IPC calls (pure ones in policy.ts). main.ts only wires them up.
 */
import { shell, type WebContents } from 'electron';
import { isAllowedNavigation, safeExternalUrl } from './policy.js';

export * from './policy.js';

/** Open a link in the system browser only when it passes `safeExternalUrl`. */
export function openExternalSafely(url: unknown): boolean {
  const safe = safeExternalUrl(url);
  if (!safe) return false;
  void shell.openExternal(safe).catch((err: unknown) => console.error('openExternal failed:', err));
  return true;
}

/** Permission requests (camera, notifications, geolocation, …): the app needs none. */
export function permissionRequestHandler(
  _wc: WebContents | null,
  _permission: string,
  callback: (granted: boolean) => void,
): void {
  callback(false);
}
export function permissionCheckHandler(): boolean {
  return false;
}

/** Applied to every web contents created: no navigation away, no new windows, no webviews. */
export function hardenContents(contents: WebContents): void {
  const guard = (event: { preventDefault(): void }, url: string) => {
    if (isAllowedNavigation(url)) return;
    event.preventDefault();
    openExternalSafely(url);
  };
  contents.on('will-navigate', guard);
  contents.on('will-redirect', guard);
  contents.on('will-frame-navigate', (event) => {
    if (!isAllowedNavigation(event.url)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    openExternalSafely(url);
    return { action: 'deny' };
  });
}
