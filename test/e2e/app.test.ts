/**
 * End to end: Debian Chromium against `rank1 serve` and the real engine. Imports MNIST, trains a
 * quick model, evaluates it against notMNIST, predicts digits and letters, exports the CSV, and
 * saves a screenshot of every view (the best three are copied to docs/).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { chromiumArgs, chromiumPath, startServe, type Served } from './serve.js';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const data = resolve(root, '../shared/data');
const shots = join(root, 'test-results/screenshots');

const hasChromium = existsSync(chromiumPath);
if (!hasChromium) console.warn(`[e2e] SKIPPED: ${chromiumPath} is missing (apt-get install -y chromium).`);

const pick = (dir: string, n: number, every = 1) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.png'))
    .sort()
    .filter((_, i) => i % every === 0)
    .slice(0, n)
    .map((f) => join(dir, f));

/** RFC 4180-ish: enough for the service's CSV (quoted cells may hold commas). */
function parseCsv(text: string): Record<string, string>[] {
  const rows: string[][] = [];
  let row: string[] = [],
    cell = '',
    q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (q) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') q = false;
      else cell += c;
    } else if (c === '"') q = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell || row.length) {
    row.push(cell);
    rows.push(row);
  }
  const [head, ...body] = rows.filter((r) => r.some((c) => c !== ''));
  return body.map((r) => Object.fromEntries(head!.map((h, i) => [h, r[i] ?? ''])));
}

describe.skipIf(!hasChromium)('Rank-1 Studio in Chromium against rank1 serve', () => {
  let served: Served;
  let browser: Browser;
  let page: Page;
  const shot = async (name: string) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: false });
  const go = async (name: string) => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();
    await page.getByRole('heading', { name, level: 2 }).waitFor();
  };

  beforeAll(async () => {
    mkdirSync(shots, { recursive: true });
    served = await startServe(root, [data]);
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true });
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true, colorScheme: 'light' });
    page = await context.newPage();
    page.on('pageerror', (e) => console.error('[page error]', e.message));
    await page.goto(served.url);
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
  });

  afterAll(async () => {
    await browser?.close();
    await served?.stop();
  });

  it('shows the navigation and the device in use', async () => {
    const nav = page.getByRole('navigation', { name: 'Main' });
    for (const name of ['Datasets', 'Train', 'Evaluate', 'Predict', 'Models']) await expect(nav.getByRole('link', { name }).isVisible()).resolves.toBe(true);
    await expect(page.getByTestId('device').innerText()).resolves.toMatch(/Device/);
  });

  it('imports MNIST', async () => {
    await go('Datasets');
    await page.getByLabel('Folder path on the server').fill(join(data, 'mnist'));
    await page.getByRole('button', { name: 'Scan' }).click();
    await page.getByText(/3,000 images in 10 classes/).waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Import' }).click();
    await page.getByRole('list', { name: 'Imported datasets' }).getByText(join(data, 'mnist')).waitFor({ timeout: 300_000 });
    await page.getByRole('list', { name: 'Imported datasets' }).getByRole('button', { name: join(data, 'mnist') }).click();
    await page.getByRole('list', { name: 'Thumbnails' }).locator('img').first().waitFor({ timeout: 30_000 });
    await shot('datasets');
  });

  it('trains a quick model with live curves', async () => {
    await go('Train');
    await page.getByLabel(/Quick/).check();
    await page.getByLabel('Model name').fill('digits-quick');
    // Quick on the wasm CPU backend: the rank-1 MLP trains an epoch of 2,400 digits in seconds.
    await page.getByText('Advanced settings').click();
    await page.getByLabel('Architecture').selectOption('mlp');
    await page.getByLabel('Epochs').fill('3');
    await page.getByLabel('Augment: random crop').uncheck();
    await page.getByRole('button', { name: 'Start training' }).click();
    await page.getByRole('progressbar', { name: 'Training progress' }).waitFor({ timeout: 60_000 });
    await page.getByText('Training finished').waitFor({ timeout: 180_000 });
    await page.getByText('Advanced settings').click();
    await shot('train');
  });

  it('evaluates against notMNIST and shows the reliability diagram', async () => {
    await go('Evaluate');
    await page.getByLabel(/OOD folder/).fill(join(data, 'notmnist'));
    await page.getByRole('button', { name: 'Evaluate' }).click();
    await page.getByRole('figure', { name: 'Reliability diagram' }).locator('svg').first().waitFor({ timeout: 300_000 });
    await expect(page.getByRole('figure', { name: 'Entropy histogram' }).isVisible()).resolves.toBe(true);
    await shot('evaluate');
  });

  it('predicts digits and letters, flags letters far more often, and exports the CSV', async () => {
    await go('Predict');
    // Two files a class, spread over the folder (each the 97th after the one before).
    const digits = Array.from({ length: 10 }, (_, d) => pick(join(data, 'mnist', String(d)), 2, 97)).flat();
    const letters = 'ABCDEFGHIJ'.split('').flatMap((l) => pick(join(data, 'notmnist', l), 2, 97));
    await page.getByLabel('Add images').setInputFiles([...digits, ...letters]);
    const total = digits.length + letters.length;
    await page.getByTestId('predict-summary').getByText(new RegExp(`^${total} image\\(s\\)`)).waitFor({ timeout: 300_000 });
    const list = page.getByRole('list', { name: 'Predictions' });
    await expect(list.getByRole('listitem').first().innerText()).resolves.toMatch(/entropy/);
    await page.getByLabel('Sort').selectOption('entropy-desc');
    await shot('predict');
    await page.getByLabel('Show').selectOption('ood');
    await expect(list.getByRole('listitem').first().innerText()).resolves.toMatch(/OOD/);
    await page.getByLabel('Show').selectOption('all');

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
    expect(download.suggestedFilename()).toBe('predictions.csv');
    const rows = parseCsv(readFileSync((await download.path())!, 'utf8'));
    expect(rows).toHaveLength(total);
    const isTrue = (v: string | undefined) => v === 'true' || v === '1' || v === 'yes';
    const isLetter = (r: Record<string, string>) => /test_/.test(r.name ?? r.file ?? '');
    const rate = (rs: Record<string, string>[]) => rs.filter((r) => isTrue(r.ood)).length / rs.length;
    const letterRate = rate(rows.filter(isLetter));
    const digitRate = rate(rows.filter((r) => !isLetter(r)));
    console.log(`[e2e] OOD flag rate: letters ${(letterRate * 100).toFixed(0)}%, digits ${(digitRate * 100).toFixed(0)}%`);
    expect(letterRate).toBeGreaterThan(Math.max(0.3, 2 * digitRate));
    for (const r of rows) expect(Number(r.entropy)).toBeGreaterThanOrEqual(0);
  });

  it('lists models and saves the screenshots', async () => {
    await go('Models');
    await page.getByText('digits-quick').waitFor();
    await shot('models');
    await page.emulateMedia({ colorScheme: 'dark' });
    await go('Predict');
    await shot('predict-dark');
    for (const name of ['predict', 'evaluate', 'train']) copyFileSync(join(shots, `${name}.png`), join(root, 'docs', `screenshot-${name}.png`));
  });
});
