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
 * The live charts. The training objective is NLL + KL (spec §3): its KL term is annealed in over
 * the first epochs, so the sum climbs while the model gets better. The data term (NLL) and the KL
 * term are therefore drawn apart, each under its own name.
 */
export const charts: { title: string; series: { key: keyof Curves; label: string }[] }[] = [
  {
    title: 'NLL (data term of the loss)',
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
  { title: 'KL term of the loss (annealed in, so it may grow)', series: [{ key: 'kl', label: 'KL' }] },
];
