/** Starts `rank1 serve` on a free port with a throwaway RANK1_HOME; resolves with its URL. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium, type Browser, type Page } from 'playwright-core';

export interface Served {
  url: string;
  proc: ChildProcess;
  home: string;
  /** ms from spawn to the URL line. */
  startMs: number;
  stop(): Promise<void>;
}

export interface ServeOptions {
  timeoutMs?: number;
  /** Runs on the fresh RANK1_HOME before the server starts (e.g. install the demo model). */
  prepare?: (home: string) => Promise<unknown> | unknown;
  /** Extra environment for the server (e.g. the offline test's socket block). */
  env?: Record<string, string>;
}

export async function startServe(root: string, allow: string[], opts: ServeOptions = {}): Promise<Served> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const home = mkdtempSync(join(tmpdir(), 'rank1-e2e-'));
  await opts.prepare?.(home);
  const t0 = performance.now();
  const proc = spawn(
    process.execPath,
    ['bin/rank1.js', 'serve', '--port', '0', ...allow.flatMap((a) => ['--allow', a])],
    {
      cwd: root,
      env: { ...process.env, ...opts.env, RANK1_HOME: home },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += String(d)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`rank1 serve printed no URL in ${timeoutMs} ms. stderr:\n${stderr}`)),
      timeoutMs,
    );
    const lines = createInterface({ input: proc.stdout! });
    lines.once('line', (line) => {
      clearTimeout(timer);
      const m = line.match(/https?:\/\/\S+/);
      if (m) resolve(m[0]);
      else reject(new Error(`First line of rank1 serve is not a URL: ${line}\nstderr:\n${stderr}`));
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`rank1 serve exited with ${code}. stderr:\n${stderr}`));
    });
  });
  const startMs = performance.now() - t0;
  return {
    url,
    proc,
    home,
    startMs,
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await new Promise((r) => {
          const t = setTimeout(() => (proc.kill('SIGKILL'), r(null)), 5000);
          proc.once('exit', () => (clearTimeout(t), r(null)));
        });
      }
      rmSync(home, { recursive: true, force: true });
    },
  };
}

export const chromiumPath = '/usr/bin/chromium';

/**
 * Whether Debian's Chromium is there. Missing, the e2e tests skip with the reason printed; in CI
 * (CI=true, where .ci/run installs it) a missing browser is a failure, never a skip.
 */
export function hasChromium(suite: string): boolean {
  if (existsSync(chromiumPath)) return true;
  const why = `${chromiumPath} is missing (apt-get install -y chromium)`;
  if (process.env.CI) throw new Error(`${why}: ${suite} cannot run.`);
  console.warn(`[e2e] SKIPPED ${suite}: ${why}.`);
  return false;
}
export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
];

export interface OpenOptions {
  viewport: { width: number; height: number };
  /** A context that accepts downloads (the CSV and PNG exports). */
  downloads?: boolean;
  /** Runs on the new page before it loads (e.g. listen to the console from the first message). */
  beforeLoad?: (page: Page) => void;
}

/**
 * Headless Chromium (chromiumArgs) on the served app, light scheme, once the main navigation is up;
 * page errors go to stderr.
 */
export async function openApp(url: string, opts: OpenOptions): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true });
  const context = await browser.newContext({
    viewport: opts.viewport,
    colorScheme: 'light',
    ...(opts.downloads ? { acceptDownloads: true } : {}),
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error('[page error]', e.message));
  opts.beforeLoad?.(page);
  await page.goto(url);
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
  return { browser, page };
}
