// Smoke run of every view in Chromium against the Vite dev server and the in-memory service
// (npx tsx test/e2e/fake-smoke.ts); screenshots go to test-results/fake-smoke/. No backend needed.
import { chromium } from 'playwright-core';
import { createServer } from 'vite';
import { mkdirSync } from 'node:fs';
import { SHARED } from '../shared-data.js';
const root = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
mkdirSync('test-results/fake-smoke', { recursive: true });
const vite = await createServer({
  configFile: root + '/src-renderer/vite.config.ts',
  server: { port: 0, host: '127.0.0.1' },
  logLevel: 'error',
});
await vite.listen();
const port = (vite.httpServer!.address() as any).port;
const b = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
  headless: true,
});
const page = await b.newPage({ viewport: { width: 1400, height: 900 } });
page.on('pageerror', (e) => console.log('PAGEERROR', e.message));
page.on('console', (m) =>
  m.type() === 'error' || m.type() === 'warning'
    ? console.log('CONSOLE', m.type(), m.text().slice(0, 300))
    : null,
);
await page.goto(`http://127.0.0.1:${port}/?fake#/datasets`);
await page.getByRole('navigation', { name: 'Main' }).waitFor();
await page.getByLabel('Folder path on the server').fill('/data/mnist');
await page.getByRole('button', { name: 'Scan' }).click();
await page.getByRole('button', { name: 'Import' }).click();
await page.getByRole('list', { name: 'Imported datasets' }).getByRole('button').first().click();
await page.getByRole('list', { name: 'Thumbnails' }).locator('img').first().waitFor();
await page.screenshot({ path: 'test-results/fake-smoke/datasets.png' });
await page.getByRole('link', { name: 'Train' }).click();
await page.getByRole('button', { name: 'Start training' }).click();
await page.getByText('Training finished').waitFor({ timeout: 20000 });
await page.screenshot({ path: 'test-results/fake-smoke/train.png' });
await page.getByRole('link', { name: 'Evaluate' }).click();
await page.getByLabel(/OOD folder/).fill('/data/notmnist');
await page.getByRole('button', { name: 'Evaluate' }).click();
await page.getByRole('figure', { name: 'Reliability diagram' }).locator('svg').first().waitFor();
await page.screenshot({ path: 'test-results/fake-smoke/evaluate.png', fullPage: true });
await page.getByRole('link', { name: 'Predict' }).click();
await page
  .getByLabel('Add images')
  .setInputFiles([`${SHARED}/data/mnist/0/60003.png`, `${SHARED}/data/notmnist/A/test_00010.png`]);
await page
  .getByTestId('predict-summary')
  .getByText(/^2 image/)
  .waitFor();
await page.getByLabel('Folder path on the server').fill('/data/x');
await page.getByRole('button', { name: 'Predict folder' }).click();
await page
  .getByTestId('predict-summary')
  .getByText(/^42 image/)
  .waitFor();
await page.screenshot({ path: 'test-results/fake-smoke/predict.png' });
const [dl] = await Promise.all([
  page.waitForEvent('download'),
  page.getByRole('button', { name: 'Export CSV' }).click(),
]);
console.log('download', dl.suggestedFilename());
await page.getByRole('link', { name: 'Models' }).click();
await page.screenshot({ path: 'test-results/fake-smoke/models.png' });
await page.emulateMedia({ colorScheme: 'dark' });
await page.getByRole('link', { name: 'Predict' }).click();
await page.screenshot({ path: 'test-results/fake-smoke/predict-dark.png' });
// keyboard: tab reaches nav links
await page.keyboard.press('Tab');
console.log('focused', await page.evaluate(() => document.activeElement?.textContent));
await b.close();
await vite.close();
console.log('OK');
