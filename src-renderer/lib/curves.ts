/** Epoch history → the columns the live charts draw. Pure. */
import type { EpochMetrics } from '../../src-main/contract.js';

export interface Curves {
  epoch: number[];
  trainLoss: number[];
  valLoss: number[];
  trainAccuracy: number[];
  valAccuracy: number[];
  trainNll: number[];
  valNll: number[];
  valEce: number[];
  kl: number[];
}

/** Steps between ticks on the charts' epoch axis: whole epochs only (there is no epoch 1.2). */
export const EPOCH_TICK_STEPS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000];

export function curvesOf(history: readonly EpochMetrics[]): Curves {
  const h = [...history].sort((a, b) => a.epoch - b.epoch);
  const col = (k: keyof EpochMetrics) => h.map((m) => (Number.isFinite(m[k]) ? m[k] : NaN));
  return {
    epoch: col('epoch'),
    trainLoss: col('trainLoss'),
    valLoss: col('valLoss'),
    trainAccuracy: col('trainAccuracy'),
    valAccuracy: col('valAccuracy'),
    trainNll: col('trainNll'),
    valNll: col('valNll'),
    valEce: col('valEce'),
    kl: col('kl'),
  };
}

/**
 * The live charts. The training objective is NLL + KL/N (spec §3): on a small folder KL/N dwarfs
 * the NLL (a 72-image folder reads "loss 238.5"), and it is annealed in, so the sum climbs while the
 * model gets better. The fit (NLL, train next to validation, same units) leads; the KL penalty per
 * image has its own chart.
 */
export const charts: { title: string; series: { key: keyof Curves; label: string }[] }[] = [
  {
    title: 'Fit (NLL): lower is better',
    series: [
      { key: 'trainNll', label: 'train' },
      { key: 'valNll', label: 'validation' },
    ],
  },
  {
    title: 'Accuracy',
    series: [
      { key: 'trainAccuracy', label: 'train' },
      { key: 'valAccuracy', label: 'validation' },
    ],
  },
  { title: 'ECE', series: [{ key: 'valEce', label: 'validation' }] },
  {
    title: 'KL penalty per image (KL / N, phased in, so it may grow)',
    series: [{ key: 'kl', label: 'KL penalty' }],
  },
];
