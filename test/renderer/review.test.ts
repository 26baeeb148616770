/**
 * What a demanding new user saw in Chromium (2026-12-03 UI review) and what is now held: words that
 * say what the numbers are, states that look like what they are, and keyboard access.
 */
import './dom-shims.js';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import PredictionCard from '../../src-renderer/components/PredictionCard.svelte';
import App from '../../src-renderer/App.svelte';
import { AppState } from '../../src-renderer/lib/app.svelte.js';
import { FakeService } from '../../src-renderer/lib/fake-service.js';
import { summaryText } from '../../src-renderer/lib/predictions.js';
import { trainStatusLine } from '../../src-renderer/lib/train-status.js';
import { newJob } from '../../src-renderer/lib/jobs.js';
import { calibrationWords, metricHints } from '../../src-renderer/lib/evaluate.svelte.js';
import { aurocNote } from '../../src-renderer/lib/ood.js';
import { histogramPlot } from '../../src-renderer/lib/plots.js';
import { EPOCH_TICK_STEPS, charts } from '../../src-renderer/lib/curves.js';
import { countOf } from '../../src-renderer/lib/format.js';
import { ServiceClient, type CompareRow, type EpochMetrics } from '../../src-main/contract.js';
import { bestPerColumn } from '../../src-renderer/lib/compare.js';

afterEach(() => cleanup());

describe('Predict summary line', () => {
  it('separates every part with " · " (it read "3 uncertain· 1 unreadable")', () => {
    const s = { total: 4, ood: 2, uncertain: 3, errors: 1 };
    expect(summaryText(s, 4)).toBe('4 image(s) · 2 OOD · 3 uncertain · 1 unreadable');
    expect(summaryText(s, 2)).toBe('4 image(s) · 2 OOD · 3 uncertain · 1 unreadable · showing 2');
    expect(summaryText({ ...s, errors: 0 }, 1_234)).toBe('4 image(s) · 2 OOD · 3 uncertain · showing 1,234');
  });
});

describe('An unreadable image on Predict', () => {
  it('is marked unreadable, not drawn with the confident (green) stripe', () => {
    render(PredictionCard, {
      row: { file: '/x/premature-end.jpg', name: 'premature-end.jpg', error: 'JPEG truncated' },
      classes: ['0', '1'],
      maxEntropy: Math.LN2,
      uncertainAt: 0.5,
    });
    const card = screen.getByRole('article', { name: 'premature-end.jpg' });
    expect(within(card).getByText('unreadable')).toBeTruthy();
    expect(card.classList.contains('unreadable')).toBe(true);
  });
});

describe('The training status line', () => {
  const metrics = (epoch: number): EpochMetrics =>
    ({
      epoch,
      valAccuracy: 0.222,
      valEce: 0.397,
      seconds: 3,
      trainNll: 1.9,
      valNll: 2.05,
      kl: 236.6,
    }) as EpochMetrics;

  it('says which epoch the validation numbers belong to while the next epoch runs', () => {
    const job = { ...newJob('j', 'train', 0), epoch: 2, loss: 238.54253, history: [metrics(1)] };
    const line = trainStatusLine(job);
    expect(line).toContain('Epoch 2');
    expect(line).toMatch(/after epoch 1: .* · val accuracy 22\.2% · val ECE 0\.397 · epoch took 3 s/);
  });

  it('has no validation part before the first epoch ends', () => {
    const job = { ...newJob('j', 'train', 0), epoch: 1, loss: 1.5, history: [] };
    expect(trainStatusLine(job)).toBe('Epoch 1');
  });

  // "loss 238.5" on a 72-image folder is nearly all KL/N (spec §3): it says nothing about the fit.
  it('shows the fit (train and validation NLL) and the KL penalty apart, never the summed loss', () => {
    const job = { ...newJob('j', 'train', 0), epoch: 2, loss: 238.54253, history: [metrics(1)] };
    const line = trainStatusLine(job);
    expect(line).not.toMatch(/loss|238\.5/);
    expect(line).toContain('fit (NLL) train 1.900 · validation 2.050');
    expect(line).toContain('KL penalty per image 236.6');
  });
});

describe('The training charts', () => {
  it('lead with the fit (train NLL next to validation NLL) and keep the KL penalty on its own chart', () => {
    expect(charts[0]).toMatchObject({
      title: expect.stringMatching(/^Fit \(NLL\)/),
      series: [
        { key: 'trainNll', label: 'train' },
        { key: 'valNll', label: 'validation' },
      ],
    });
    const kl = charts.filter((c) => c.series.some((s) => s.key === 'kl'));
    expect(kl).toHaveLength(1);
    expect(kl[0]!.title).toMatch(/^KL penalty per image/);
    expect(kl[0]!.series).toHaveLength(1);
    expect(charts.flatMap((c) => c.series.map((s) => s.key))).not.toContain('trainLoss');
  });
});

describe('Evaluate names its images by what they are', () => {
  // Evaluate measures the held-out validation and test images of the model's own folder, or all of
  // another folder: never only "validation images".
  it('the accuracy hint, the backwards-AUROC note and the histogram legend say "these images"', () => {
    expect(metricHints.accuracy.hint).not.toMatch(/validation/);
    const note = aurocNote({ score: 'entropy', label: 'entropy', auroc: 0.4, fpr95: 0.9 })!;
    expect(note).not.toMatch(/validation/);
    const legend = (
      histogramPlot({ in: [], ood: [{ x0: 0, x1: 1, density: 1 }] as never }, 'entropy').color as {
        domain: string[];
      }
    ).domain;
    expect(legend.join(' ')).not.toMatch(/validation/);
  });

  it('draws no "OOD folder" legend entry when no OOD folder was given', () => {
    const plot = histogramPlot({ in: [{ x0: 0, x1: 1, density: 1 }] as never, ood: [] }, 'entropy');
    expect((plot.color as { domain: string[] }).domain).toEqual(['these images']);
  });
});

describe('Rename from the keyboard', () => {
  it('moves focus into the name field, and Escape cancels', async () => {
    history.replaceState(null, '', '#/models');
    const fake = new FakeService({ stepMs: 1 });
    const app = new AppState(new ServiceClient(fake), { kind: 'browser' });
    render(App, { props: { app } });
    await app.init();
    const name = app.models[0]!.name;
    await fireEvent.click(screen.getByRole('button', { name: `Rename ${name}` }));
    const field = screen.getByLabelText('New name');
    expect(document.activeElement).toBe(field);
    await fireEvent.keyDown(field, { key: 'Escape' });
    expect(screen.queryByLabelText('New name')).toBeNull();
    expect(document.activeElement).toBe(screen.getByRole('button', { name: `Rename ${name}` }));
    // Saved with Enter: focus lands on the renamed model's Rename button, not on the page.
    await fireEvent.click(screen.getByRole('button', { name: `Rename ${name}` }));
    await fireEvent.input(screen.getByLabelText('New name'), { target: { value: 'Digits' } });
    await fireEvent.submit(screen.getByLabelText('New name').closest('form')!);
    const renamed = await screen.findByRole('button', { name: 'Rename Digits' });
    await waitFor(() => expect(document.activeElement).toBe(renamed));
  });
});

describe('The training charts', () => {
  it('tick the epoch axis at whole epochs only (it showed 1.2, 1.4 … for two epochs)', () => {
    expect(EPOCH_TICK_STEPS.length).toBeGreaterThan(0);
    expect(EPOCH_TICK_STEPS.every((s) => Number.isInteger(s) && s >= 1)).toBe(true);
  });
});

describe('Counts in words', () => {
  it('say "1 class" and "30 images", never "1 classes" (a one-class folder read "30 images in 1 classes")', () => {
    expect(countOf(1, 'class', 'classes')).toBe('1 class');
    expect(countOf(3, 'class', 'classes')).toBe('3 classes');
    expect(countOf(1_234, 'image', 'images')).toBe('1,234 images');
  });
});

describe('The comparison table', () => {
  const row = (method: CompareRow['method'], auroc: number, nll: number): CompareRow => ({
    method,
    accuracy: 0.5,
    nll,
    ece: 0.1,
    brier: 0.5,
    auroc_flag: auroc,
    auroc_entropy: null,
    parameters: 10,
    train_seconds: 1,
    predict_images_per_s: 1,
    reliability: [],
  });

  it('bolds every row whose shown value ties for best, none when all tie (1.000 beside a plain 1.000 read as a win)', () => {
    const rows = [row('rank1', 0.99996, 0.3), row('deterministic', 1, 0.3), row('ensemble', 0.9, 0.2)];
    const best = bestPerColumn(rows);
    expect(best.auroc_flag).toEqual(['rank1', 'deterministic']);
    expect(best.nll).toEqual(['ensemble']);
    expect(best.accuracy).toBeUndefined(); // 50.0% everywhere: nothing to single out
  });
});

describe('The reliability diagrams before and after calibration', () => {
  const metrics = {
    temperature: 2.905,
    ece: 0.126,
    nll: 1.107,
    ece_uncalibrated: 0.479,
    nll_uncalibrated: 1.438,
  };

  it('say on the calibrated one that it is calibrated, and point from the other by name, not by place', () => {
    const w = calibrationWords(metrics);
    expect(w.after).toMatch(/after temperature scaling \(T = 2\.905\): NLL 1\.107, ECE 0\.126/);
    // Side by side on a wide window, "the diagram above" was not above.
    expect(w.before).not.toMatch(/above/);
    expect(w.before).toMatch(/T = 1\): NLL 1\.438, ECE 0\.479; the reliability diagram uses T = 2\.905/);
  });

  it('say nothing of calibration for a model without it', () => {
    expect(calibrationWords({ ece: 0.1, nll: 0.5 }).after).toBe('');
    expect(calibrationWords({ ece: 0.1, nll: 0.5, temperature: 1 }).after).toBe('');
  });
});
