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

export const charts: { title: string; series: { key: keyof Curves; label: string }[] }[] = [
  {
    title: 'Loss',
    series: [
      { key: 'trainLoss', label: 'train' },
      { key: 'valLoss', label: 'validation' },
    ],
  },
  {
    title: 'Accuracy',
    series: [
      { key: 'trainAccuracy', label: 'train' },
      { key: 'valAccuracy', label: 'validation' },
    ],
  },
  {
    title: 'NLL',
    series: [
      { key: 'trainNll', label: 'train' },
      { key: 'valNll', label: 'validation' },
    ],
  },
  { title: 'ECE', series: [{ key: 'valEce', label: 'validation' }] },
  { title: 'KL', series: [{ key: 'kl', label: 'KL' }] },
];
