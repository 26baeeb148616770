/**
 * Prediction cards in Debian Chromium against `rank1 serve` and the shipped demo model (issue 15,
 * polish): at 1,280 px no card overflows with a 120-character file name (the badges stay inside),
 * and a TIFF picked in the browser shows a thumbnail the service made (an object URL of a TIFF is
 * a broken image in Chromium). Needs `npm run build`; fails, not skips, in CI without Chromium.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { installDemoModel } from '../../src-main/store/demo.js';
import { hasChromium, openApp, startServe, type Served } from './serve.js';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const data = resolve(root, '../shared/data');
const shots = join(root, 'test-results/screenshots');
const chromiumThere = hasChromium('the card tests');

const first = (dir: string, ext: RegExp) =>
  join(
    dir,
    readdirSync(dir)
      .filter((f) => ext.test(f))
      .sort()[0]!,
  );

/** A name of exactly `length` characters ending in the file's extension. */
function longName(tag: string, ext: string, length = 120): string {
  const stem = `${tag}_a_very_long_file_name_from_a_camera_export_`;
  return (stem + 'x'.repeat(length)).slice(0, length - ext.length) + ext;
}

describe.skipIf(!chromiumThere)('Prediction cards at 1,280 px', () => {
  let served: Served;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    served = await startServe(root, [data], {
      prepare: async (home) => installDemoModel(home, join(root, 'resources')),
    });
    ({ browser, page } = await openApp(served.url, { viewport: { width: 1280, height: 1000 } }));
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Predict' }).click();
  });

  afterAll(async () => {
    await browser?.close();
    await served?.stop();
  });

  it('keeps 120-character names and their badges inside every card', async () => {
    const digit = first(join(data, 'mnist', '3'), /\.png$/);
    const letter = first(join(data, 'notmnist', 'E'), /\.png$/);
    const tiff = first(join(data, 'robustness', 'formats', 'tiff'), /\.tiff?$/i);
    const files = [
      { name: longName('digit', '.png'), mimeType: 'image/png', buffer: readFileSync(digit) },
      { name: longName('letter', '.png'), mimeType: 'image/png', buffer: readFileSync(letter) },
      { name: longName('scan', '.tif'), mimeType: 'image/tiff', buffer: readFileSync(tiff) },
    ];
    for (const f of files) expect(f.name).toHaveLength(120);
    await page.getByLabel('Add images').setInputFiles(files);
    const cards = page.getByRole('list', { name: 'Predictions' }).locator('article');
    await expect.poll(() => cards.count(), { timeout: 120_000 }).toBe(3);
    await expect.poll(() => cards.locator('.badge').count(), { timeout: 30_000 }).toBeGreaterThan(0);
    const boxes = await cards.evaluateAll((els) =>
      els.map((card) => {
        const c = card.getBoundingClientRect();
        const outside = Array.from(card.querySelectorAll('*'))
          .filter((el) => {
            const r = el.getBoundingClientRect();
            return r.width > 0 && (r.right > c.right + 0.5 || r.left < c.left - 0.5);
          })
          .map((el) => el.className || el.tagName);
        const badges = Array.from(card.querySelectorAll('.badge')).map((b) => {
          const r = b.getBoundingClientRect();
          return { right: r.right, visible: r.width > 0 && r.right <= c.right };
        });
        return {
          name: card.getAttribute('aria-label') ?? '',
          scrolls: card.scrollWidth > card.clientWidth,
          outside,
          badges,
        };
      }),
    );
    for (const b of boxes) {
      expect(b.scrolls, b.name).toBe(false);
      expect(b.outside, b.name).toEqual([]);
      for (const badge of b.badges) expect(badge.visible, b.name).toBe(true);
    }
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: join(shots, 'predict-long-names.png') });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: join(shots, 'predict-long-names-dark.png') });
    await page.emulateMedia({ colorScheme: 'light' });
  });

  // Red until data.thumbnail() accepts bytes (src-main/data/decode.ts takes a path only, so the
  // service's thumbnail of a picked file fails and the card has none).
  it('shows a thumbnail for a TIFF picked in the browser (made by the service)', async () => {
    const cards = page.getByRole('list', { name: 'Predictions' }).locator('article');
    const tiffCard = cards.filter({ has: page.locator('.name', { hasText: 'scan_' }) });
    await expect
      .poll(
        () =>
          tiffCard
            .locator('img')
            .evaluateAll(
              (imgs) =>
                imgs.map((i) =>
                  (i as HTMLImageElement).complete ? (i as HTMLImageElement).naturalWidth : 0,
                )[0] ?? 0,
            ),
        { timeout: 20_000 },
      )
      .toBeGreaterThan(0);
  }, 60_000);
});
