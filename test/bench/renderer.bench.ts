/**
 * Renderer performance, in Debian Chromium (run: npx tsx test/bench/renderer.bench.ts).
 *  1. serve start → interactive: spawn `rank1 serve`, open its URL, wait for the navigation
 *     (needs `npm run build`; skipped with a reason otherwise).
 *  2. scrolling 1,000 prediction cards: the Vite dev server with the in-memory service
 *     (`?fake&demoRows=1000`), scrolled one step per frame for 3 s; frames per second counted.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { createServer } from 'vite';
import { chromiumArgs, chromiumPath, startServe } from '../e2e/serve.js';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const results: Record<string, string> = {};

async function serveToInteractive(browser: Browser): Promise<void> {
  if (!existsSync(join(root, 'dist/main/cli.js')) || !existsSync(join(root, 'dist/renderer/index.html'))) {
    results['serve start → interactive'] = 'skipped: dist/main/cli.js or dist/renderer not built';
    return;
  }
  const t0 = performance.now();
  const served = await startServe(root, [resolve(root, '../shared/data')]);
  try {
    const page = await browser.newPage();
    await page.goto(served.url);
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    await page.getByTestId('device').getByText(/CPU|GPU|NVIDIA|not started/).waitFor({ timeout: 60_000 });
    results['serve start → URL printed'] = `${served.startMs.toFixed(0)} ms`;
    results['serve start → interactive (nav + device shown)'] = `${(performance.now() - t0).toFixed(0)} ms`;
    await page.close();
  } finally {
    await served.stop();
  }
}

async function scrollFps(browser: Browser): Promise<void> {
  const vite = await createServer({ configFile: join(root, 'src-renderer/vite.config.ts'), server: { port: 0, host: '127.0.0.1' }, logLevel: 'error' });
  await vite.listen();
  const addr = vite.httpServer!.address() as { port: number };
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const t0 = performance.now();
    await page.goto(`http://127.0.0.1:${addr.port}/?fake&demoRows=1000#/predict`);
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    results['dev page load → interactive (fake service, cold Vite)'] = `${(performance.now() - t0).toFixed(0)} ms`;
    await page.getByTestId('predict-summary').getByText(/^1,000 image/).waitFor();
    // A string, not a function: tsx would inject its `__name` helper, which the page lacks.
    const r = (await page.evaluate(`(async () => {
      const el = document.querySelector('[data-testid="predictions"]');
      const frames = [];
      const step = 40;
      await new Promise((done) => {
        const start = performance.now();
        const tick = (t) => {
          frames.push(t);
          el.scrollTop = el.scrollTop + step >= el.scrollHeight - el.clientHeight ? 0 : el.scrollTop + step;
          if (t - start < 3000) requestAnimationFrame(tick);
          else done();
        };
        requestAnimationFrame(tick);
      });
      const gaps = frames.slice(1).map((t, i) => t - frames[i]).sort((a, b) => a - b);
      const secs = (frames[frames.length - 1] - frames[0]) / 1000;
      return { fps: (frames.length - 1) / secs, p95: gaps[Math.floor(gaps.length * 0.95)], max: gaps[gaps.length - 1],
        dom: document.querySelectorAll('[aria-label="Predictions"] > li').length, height: el.scrollHeight };
    })()`)) as { fps: number; p95: number; max: number; dom: number; height: number };
    results['scroll 1,000 cards: frames per second'] = `${r.fps.toFixed(1)} fps (p95 frame ${r.p95.toFixed(1)} ms, worst ${r.max.toFixed(1)} ms; ${r.dom} cards in the DOM, list ${r.height}px tall)`;
    await page.close();
  } finally {
    await vite.close();
  }
}

if (!existsSync(chromiumPath)) {
  console.log(`skipped: ${chromiumPath} missing (apt-get install -y chromium)`);
  process.exit(0);
}
const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true });
try {
  await serveToInteractive(browser);
  await scrollFps(browser);
} finally {
  await browser.close();
}
for (const [k, v] of Object.entries(results)) console.log(`${k}: ${v}`);
