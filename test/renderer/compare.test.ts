/** Compare: the table's logic (best per column, cells, CSV) and the view over the fake service. */
import './dom-shims.js';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, fireEvent, render, screen, within } from '@testing-library/svelte';
import App from '../../src-renderer/App.svelte';
import { AppState } from '../../src-renderer/lib/app.svelte.js';
import { bestPerColumn, cellText, compareCsv } from '../../src-renderer/lib/compare.js';
import { FakeService } from '../../src-renderer/lib/fake-service.js';
import { ServiceClient, compareColumns, type CompareRow } from '../../src-main/contract.js';

const row = (over: Partial<CompareRow>): CompareRow => ({
  method: 'rank1',
  accuracy: 0.9,
  nll: 0.3,
  ece: 0.02,
  brier: 0.15,
  auroc_flag: null,
  auroc_entropy: null,
  parameters: 1000,
  train_seconds: 10,
  predict_images_per_s: 500,
  reliability: [],
  ...over,
});

afterEach(() => cleanup());

describe('comparison table', () => {
  const rows = [
    row({ method: 'rank1', accuracy: 0.91, nll: 0.25, parameters: 1100, auroc_flag: 0.97 }),
    row({ method: 'deterministic', accuracy: 0.92, nll: 0.31, parameters: 1000, auroc_flag: null }),
  ];

  it('marks the best row per column in the direction that is better, never on one value', () => {
    const best = bestPerColumn(rows);
    expect(best.accuracy).toEqual(['deterministic']);
    expect(best.nll).toEqual(['rank1']);
    expect(best.parameters).toEqual(['deterministic']);
    expect(best.auroc_flag).toBeUndefined(); // only one row has it
    expect(best.method).toBeUndefined();
  });

  it('writes the contract columns as CSV, empty for a missing AUROC', () => {
    const lines = compareCsv(rows).trim().split('\n');
    expect(lines[0]).toBe(compareColumns.join(','));
    expect(lines[2]!.split(',')).toEqual([
      'deterministic',
      '0.92',
      '0.31',
      '0.02',
      '0.15',
      '',
      '',
      '1000',
      '10',
      '500',
    ]);
  });

  it('shows a method in words, accuracy as a percentage and a missing AUROC as a dash', () => {
    expect(cellText(rows[0]!, 'method')).toBe('Rank-1 BNN');
    expect(cellText(rows[0]!, 'accuracy')).toBe('91.0%');
    expect(cellText(rows[1]!, 'auroc_flag')).toBe('—');
  });
});

describe('Compare view', () => {
  /** The app on the Compare view over the fake service, with one imported dataset (digits). */
  async function openCompare() {
    history.replaceState(null, '', '#/compare');
    const fake = new FakeService({ stepMs: 1 });
    fake.datasets = [
      {
        id: 'digits',
        root: '/data/digits',
        images: 300,
        classes: ['0', '1'],
        preprocessing: { size: 28, fit: 'cover', channels: 1 } as never,
        importedAt: new Date().toISOString(),
      },
    ];
    const app = new AppState(new ServiceClient(fake), { kind: 'browser' });
    render(App, { props: { app } });
    await app.init();
    await screen.findByRole('heading', { name: 'Compare', level: 2 });
    return { fake, app };
  }

  it('runs the ticked methods and shows one table row and one reliability diagram per method', async () => {
    const { fake } = await openCompare();
    await fireEvent.click(screen.getByRole('checkbox', { name: /Deep ensemble/ }));
    await fireEvent.click(screen.getByRole('button', { name: 'Run comparison' }));
    const table = await screen.findByRole('table', { name: 'Comparison' });
    const names = within(table)
      .getAllByRole('rowheader')
      .map((h) => h.textContent);
    expect(names).toEqual(['Rank-1 BNN', 'Deterministic', 'Deep ensemble']);
    const call = fake.calls.find((c) => c.op === 'compare.start');
    expect(call?.args).toMatchObject({ dataset: 'digits', methods: ['rank1', 'deterministic', 'ensemble'] });
    const diagrams = screen.getByRole('group', { name: 'Reliability diagrams' });
    expect(within(diagrams).getAllByRole('figure')).toHaveLength(3);
  });

  it('sends the epochs and seed typed (seed 0 included); an emptied field is left to the preset', async () => {
    const { fake, app } = await openCompare();
    const epochs = screen.getByRole('spinbutton', { name: 'Epochs' });
    await fireEvent.input(epochs, { target: { value: '3' } });
    await fireEvent.input(screen.getByRole('spinbutton', { name: 'Seed' }), { target: { value: '0' } });
    expect([app.compare.epochs, app.compare.seed]).toEqual([3, 0]);
    await fireEvent.input(epochs, { target: { value: '' } });
    expect(app.compare.epochs).toBeNull();
    await fireEvent.click(screen.getByRole('button', { name: 'Run comparison' }));
    await screen.findByRole('table', { name: 'Comparison' });
    const call = fake.calls.find((c) => c.op === 'compare.start');
    expect(call?.args).toEqual({ dataset: 'digits', methods: ['rank1', 'deterministic'], seed: 0 });
  });

  it('shows a comparison that was already running when the window opened, then its table', async () => {
    history.replaceState(null, '', '#/compare');
    const fake = new FakeService({
      stepMs: 1,
      running: [
        {
          jobId: 'old',
          kind: 'compare',
          state: 'running',
          startedAt: new Date().toISOString(),
          title: 'Compare rank1, ensemble on digits',
          last: { method: 'ensemble', index: 1, methods: 2, stage: 'train', done: 150, total: 200 },
        },
      ],
    });
    const app = new AppState(new ServiceClient(fake), { kind: 'browser' });
    render(App, { props: { app } });
    await app.init();
    expect(app.compare.jobId).toBe('old');
    const bar = await screen.findByRole('progressbar', { name: 'Comparison progress' });
    expect(bar.getAttribute('aria-valuenow')).toBe('75');
    expect(screen.getByText(/ensemble \(2 of 2\): train/)).toBeTruthy();
    fake.emit({
      type: 'job.done',
      jobId: 'old',
      kind: 'compare',
      result: {
        dataset: '/data/digits',
        split: 'test',
        n: 60,
        n_ood: null,
        folder: '/home/comparisons/x',
        rows: [row({ method: 'rank1' }), row({ method: 'ensemble', parameters: 4000 })],
      },
    });
    const table = await screen.findByRole('table', { name: 'Comparison' });
    expect(
      within(table)
        .getAllByRole('rowheader')
        .map((h) => h.textContent),
    ).toEqual(['Rank-1 BNN', 'Deep ensemble']);
  });
});
