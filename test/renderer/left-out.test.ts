/**
 * Evaluate and Compare name what the measurement left out (EvaluateResult.skipped,
 * unknownClasses; CompareResult.skipped) in the CLI's words, over the fake service.
 */
import './dom-shims.js';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, fireEvent, render, screen, within } from '@testing-library/svelte';
import App from '../../src-renderer/App.svelte';
import { AppState } from '../../src-renderer/lib/app.svelte.js';
import { FakeService, type FakeOptions } from '../../src-renderer/lib/fake-service.js';
import { ServiceClient, type SkippedFile } from '../../src-main/contract.js';

const skipped: SkippedFile[] = [
  { file: '/data/notmnist/A/broken.png', reason: 'truncated', message: 'the file ends early' },
  { file: '/data/mnist/0/copy.png', reason: 'duplicate', duplicateOf: '/data/mnist/0/orig.png' },
  { file: '/data/mnist/0/copy2.png', reason: 'duplicate', duplicateOf: '/data/mnist/0/orig.png' },
];

async function setup(opts: FakeOptions, hash: string) {
  history.replaceState(null, '', hash);
  const fake = new FakeService({ stepMs: 1, ...opts });
  fake.datasets = [
    {
      id: 'ds-1',
      root: '/data/mnist',
      images: 10,
      classes: ['0', '7'],
      preprocessing: { size: 28, fit: 'cover', channels: 1 } as never,
      importedAt: new Date().toISOString(),
    },
  ];
  const app = new AppState(new ServiceClient(fake), { kind: 'browser' });
  render(App, { props: { app } });
  await app.init();
  return { fake, app };
}

afterEach(() => cleanup());

/** The "N files were not measured" block: its summary line and its list, opened. */
async function notMeasured() {
  const block = await screen.findByTestId('not-measured');
  const summary = block.querySelector('summary')!;
  await fireEvent.click(summary);
  const list = within(block).getByRole('list', { name: 'Files not measured' });
  return {
    summary: summary.textContent,
    items: within(list)
      .getAllByRole('listitem')
      .map((li) => li.textContent),
  };
}

describe('Evaluate: what was left out', () => {
  it('says how many files were not measured, lists each with the CLI’s reason, and warns per unknown class', async () => {
    await setup({ leftOut: { skipped, unknownClasses: [{ name: 'letters', images: 3 }] } }, '#/evaluate');
    await fireEvent.click(screen.getByRole('button', { name: 'Evaluate' }));
    const { summary, items } = await notMeasured();
    expect(summary).toBe('3 files were not measured');
    expect(items).toEqual([
      'truncated: /data/notmnist/A/broken.png (the file ends early)',
      '2 exact copies of images in the same class, measured once (importing the folder under Datasets lists them)',
    ]);
    const warnings = screen.getAllByTestId('unknown-class').map((w) => w.textContent);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /^Warning: class "letters" \(3 images\) is not one of the model's classes \(.+\): its images are not measured$/,
    );
  });

  it('shows neither line when nothing was left out', async () => {
    await setup({}, '#/evaluate');
    await fireEvent.click(screen.getByRole('button', { name: 'Evaluate' }));
    await screen.findByRole('figure', { name: 'Reliability diagram' });
    expect(screen.queryByTestId('not-measured')).toBeNull();
    expect(screen.queryByTestId('unknown-class')).toBeNull();
  });
});

describe('Compare: what was left out', () => {
  it('says how many files of the dataset and OOD folder were not measured, one reason each', async () => {
    await setup({ leftOut: { skipped: skipped.slice(0, 1) } }, '#/compare');
    await fireEvent.click(screen.getByRole('button', { name: 'Run comparison' }));
    await screen.findByRole('table', { name: 'Comparison' });
    const { summary, items } = await notMeasured();
    expect(summary).toBe('1 file was not measured');
    expect(items).toEqual(['truncated: /data/notmnist/A/broken.png (the file ends early)']);
  });
});

describe('Evaluate and Compare: which folder each left-out file came from', () => {
  const fromBoth: SkippedFile[] = [
    { file: '/data/mnist/7/cut.png', reason: 'truncated', message: 'the file ends early' },
    {
      file: '/data/letters/notes.txt',
      reason: 'not-image',
      message: 'extension ".txt" is not an image format',
    },
    { file: '/elsewhere/x.png', reason: 'empty' },
  ];
  const expected = [
    'truncated: /data/mnist/7/cut.png (the file ends early) (in the dataset)',
    'not-image: /data/letters/notes.txt (extension ".txt" is not an image format) (in the OOD folder)',
    'empty: /elsewhere/x.png',
  ];

  it('Evaluate says "in the dataset" or "in the OOD folder" after each file under one of them', async () => {
    await setup({ leftOut: { skipped: fromBoth } }, '#/evaluate');
    await fireEvent.input(screen.getByLabelText(/OOD folder/), { target: { value: '/data/letters/' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Evaluate' }));
    expect((await notMeasured()).items).toEqual(expected);
  });

  it('Compare says it too', async () => {
    await setup({ leftOut: { skipped: fromBoth } }, '#/compare');
    await fireEvent.input(screen.getByLabelText(/OOD folder/), { target: { value: '/data/letters/' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Run comparison' }));
    await screen.findByRole('table', { name: 'Comparison' });
    expect((await notMeasured()).items).toEqual(expected);
  });
});

describe('Predict: files of a folder that are not images', () => {
  it('says how many files of the folder were not read, one reason each', async () => {
    const notes = {
      file: '/data/photos/notes.txt',
      reason: 'not-image' as const,
      message: 'extension ".txt" is not an image format',
    };
    await setup({ leftOut: { skipped: [notes] } }, '#/predict');
    await fireEvent.input(screen.getByLabelText(/Folder path on the server/), {
      target: { value: '/data/photos' },
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Predict folder' }));
    const { summary, items } = await notMeasured();
    expect(summary).toBe('1 file was not read');
    expect(items).toEqual(['not-image: /data/photos/notes.txt (extension ".txt" is not an image format)']);
  });
});
