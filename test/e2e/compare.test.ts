/**
 * End to end, issue 16 item 5: Debian Chromium against `rank1 serve` and the real engine. Imports
 * a small MNIST subset (4 digits × 60, copied to a temporary folder), compares rank-1 with the
 * deterministic baseline (MLP, one epoch) against a few notMNIST letters, and saves the table as
 * CSV and the reliability diagrams as PNG. Needs `npm run build`. Without /usr/bin/chromium it is
 * skipped with the reason printed, except in CI, where it fails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { compareColumns } from '../../src-main/contract.js';
import { hasChromium, openApp, startServe, type Served } from './serve.js';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const shared = resolve(root, '../shared/data');
const shots = join(root, 'test-results/screenshots');
const chromiumThere = hasChromium('the Compare flow');

function copyFirst(from: string, to: string, n: number): void {
  mkdirSync(to, { recursive: true });
  for (const f of readdirSync(from).sort().slice(0, n)) copyFileSync(join(from, f), join(to, f));
}

describe.skipIf(!chromiumThere)('Compare in Chromium against rank1 serve', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'rank1-e2e-compare-'));
  const digits = join(tmp, 'digits');
  const letters = join(tmp, 'letters');
  let served: Served;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    for (const c of ['0', '1', '2', '3']) copyFirst(join(shared, 'mnist', c), join(digits, c), 60);
    copyFirst(join(shared, 'notmnist', 'A'), letters, 40);
    mkdirSync(shots, { recursive: true });
    served = await startServe(root, [tmp]);
    served.proc.stderr!.on('data', (d) => process.stderr.write(`[serve] ${String(d)}`));
    ({ browser, page } = await openApp(served.url, {
      viewport: { width: 1400, height: 900 },
      downloads: true,
    }));
  });

  afterAll(async () => {
    await browser?.close();
    await served?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  const go = async (name: string) => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();
    await page.getByRole('heading', { name, level: 2 }).waitFor();
  };

  it('compares two methods on one split and exports the table and the diagrams', async () => {
    await go('Datasets');
    await page.getByLabel('Folder path on the server').fill(digits);
    await page.getByRole('button', { name: 'Scan' }).click();
    await page.getByText(/240 images in 4 classes/).waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Import' }).click();
    await page
      .getByRole('list', { name: 'Imported datasets' })
      .getByText(digits)
      .waitFor({ timeout: 120_000 });

    await go('Compare');
    // Rank-1 and deterministic are ticked by default.
    await expect(page.getByRole('checkbox', { name: /Rank-1 BNN/ }).isChecked()).resolves.toBe(true);
    await expect(page.getByRole('checkbox', { name: /Deterministic/ }).isChecked()).resolves.toBe(true);
    await page.getByLabel('Architecture').selectOption('mlp');
    await page.getByLabel('Epochs').fill('1');
    await page.getByLabel(/OOD folder/).fill(letters);
    await page.getByRole('button', { name: 'Run comparison' }).click();
    await page.getByRole('group', { name: 'Comparison' }).waitFor({ timeout: 30_000 });

    const table = page.getByRole('table', { name: 'Comparison' });
    await table.waitFor({ timeout: 300_000 });
    await expect(table.getByRole('rowheader').allInnerTexts()).resolves.toEqual([
      'Rank-1 BNN',
      'Deterministic',
    ]);
    await expect(page.getByText(/48 held-out images \(test split\).*40 OOD images/).count()).resolves.toBe(1);
    const diagrams = page.getByRole('group', { name: 'Reliability diagrams' });
    await expect(diagrams.locator('figure svg').count()).resolves.toBe(2);
    await page.screenshot({ path: join(shots, 'compare.png'), fullPage: true });

    const [csvDownload] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export table (CSV)' }).click(),
    ]);
    expect(csvDownload.suggestedFilename()).toBe('comparison.csv');
    const lines = readFileSync((await csvDownload.path())!, 'utf8')
      .trim()
      .split('\n');
    expect(lines[0]).toBe(compareColumns.join(','));
    expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual(['rank1', 'deterministic']);
    for (const l of lines.slice(1)) {
      const cells = Object.fromEntries(l.split(',').map((v, i) => [compareColumns[i], Number(v)]));
      expect(cells.accuracy).toBeGreaterThanOrEqual(0);
      expect(cells.accuracy).toBeLessThanOrEqual(1);
      expect(cells.auroc_flag).toBeGreaterThanOrEqual(0);
      expect(cells.auroc_flag).toBeLessThanOrEqual(1);
      expect(cells.parameters).toBeGreaterThan(0);
    }

    const [pngDownload] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Save diagrams (PNG)' }).click(),
    ]);
    expect(pngDownload.suggestedFilename()).toBe('reliability-diagrams.png');
    await pngDownload.saveAs(join(shots, 'compare-diagrams.png'));
    const png = readFileSync((await pngDownload.path())!);
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    // Two 320-px diagrams side by side at scale 2: wider than tall.
    const width = png.readUInt32BE(16);
    const height = png.readUInt32BE(20);
    expect(width).toBeGreaterThan(2 * 320 * 2);
    expect(height).toBeLessThan(width);
  });
});
