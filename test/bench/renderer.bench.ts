/**
 * Renderer performance, in Debian Chromium against the real `rank1 serve` and the built renderer
 * (run: npm run build && npx tsx test/bench/renderer.bench.ts):
 *  1. serve start → interactive: spawn `rank1 serve`, open its URL, wait for the navigation and
 *     the device line.
 *  2. scrolling 1,000 prediction cards: the shipped demo model (installed into the fresh home as on
 *     first start) predicts 1,000 MNIST digits dropped through "Add images" (real engine, real
 *     thumbnails); then the list is scrolled one step per frame for 3 s and frames counted.
 * Prints the load average next to the numbers: on a shared machine they move with it.
 */
import { existsSync, readdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { installDemoModel } from '../../src-main/store/demo.js';
import { chromiumArgs, chromiumPath, startServe } from '../e2e/serve.js';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const data = resolve(root, '../shared/data');
const results: Record<string, string> = {};
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');

async function serveToInteractive(browser: Browser): Promise<void> {
  const t0 = performance.now();
  const served = await startServe(root, [data]);
  try {
    const page = await browser.newPage();
    await page.goto(served.url);
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    const nav = performance.now() - t0;
    await page
      .getByTestId('device')
      .getByText(/CPU|GPU|NVIDIA|not started/)
      .waitFor({ timeout: 60_000 });
    results['serve start → URL printed'] = `${served.startMs.toFixed(0)} ms`;
    results['serve start → navigation visible'] = `${nav.toFixed(0)} ms`;
    results['serve start → interactive (nav + device shown)'] = `${(performance.now() - t0).toFixed(0)} ms`;
    await page.close();
  } finally {
    await served.stop();
  }
}

async function scrollFps(browser: Browser): Promise<void> {
  let installed = false;
  const served = await startServe(root, [data], {
    prepare: async (home) => (installed = await installDemoModel(home, join(root, 'resources'))),
  });
  try {
    if (!installed) {
      results['scroll 1,000 cards'] =
        'skipped: no demo model under resources/demo/digits (npx tsx scripts/train-demo.ts)';
      return;
    }
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(served.url);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Predict' }).click();
    const files = Array.from({ length: 10 }, (_, d) => {
      const dir = join(data, 'mnist', String(d));
      return readdirSync(dir)
        .sort()
        .slice(0, 100)
        .map((f) => join(dir, f));
    }).flat();
    const t0 = performance.now();
    await page.getByLabel('Add images').setInputFiles(files);
    const summary = page.getByTestId('predict-summary');
    for (let waited = 0; !(await summary.getByText(/^1,000 image/).isVisible()); waited += 5) {
      if (waited > 300)
        throw new Error(`1,000 predictions not done in 300 s: ${await page.locator('main').innerText()}`);
      if (waited && waited % 30 === 0) console.log(`  … ${await summary.innerText()}`);
      await page.waitForTimeout(5000);
    }
    results['predict 1,000 dropped digits (demo model, engine + streaming)'] =
      `${((performance.now() - t0) / 1000).toFixed(1)} s`;
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
    results['scroll 1,000 cards: frames per second'] =
      `${r.fps.toFixed(1)} fps (p95 frame ${r.p95.toFixed(1)} ms, worst ${r.max.toFixed(1)} ms; ${r.dom} cards in the DOM, list ${r.height}px tall)`;
    await page.close();
  } finally {
    await served.stop();
  }
}

if (!existsSync(chromiumPath)) {
  console.log(`skipped: ${chromiumPath} missing (apt-get install -y chromium)`);
  process.exit(0);
}
if (!existsSync(join(root, 'dist/main/cli.js')) || !existsSync(join(root, 'dist/renderer/index.html'))) {
  console.log('not built: run npm run build first');
  process.exit(1);
}
console.log(`load average before (1/5/15 min): ${load()} on ${cpus().length} cores`);
const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true });
try {
  await serveToInteractive(browser);
  await scrollFps(browser);
} finally {
  await browser.close();
}
results['load average after (1/5/15 min)'] = load();
for (const [k, v] of Object.entries(results)) console.log(`${k}: ${v}`);
