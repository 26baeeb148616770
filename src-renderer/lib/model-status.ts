/**
 * How a model's state and its one accuracy are said everywhere (Models, Predict, Evaluate;
 * issue 15): a cancelled or crashed run is "incomplete (epoch 1 of 5)", and the accuracy names
 * the images it was measured on. Pure; tested in test/renderer.
 */
import type { ModelSummary } from '../../src-main/contract.js';
import { formatCount, formatPercent } from './format.js';

type Status = Pick<ModelSummary, 'status' | 'epoch' | 'epochs'>;

export function isIncomplete(m: Status): boolean {
  return m.status === 'incomplete';
}

/** "incomplete (epoch 1 of 5)", or '' for a finished model. */
export function statusText(m: Status): string {
  if (!isIncomplete(m)) return '';
  return m.epoch !== undefined && m.epochs !== undefined
    ? `incomplete (epoch ${m.epoch} of ${m.epochs})`
    : 'incomplete';
}

const SPLIT_WORDS: Record<string, string> = { val: 'validation', test: 'test', train: 'training' };

/** "43.3% on 30 validation images", or '—' when none was measured. */
export function accuracyText(m: Pick<ModelSummary, 'accuracy'>): string {
  const a = m.accuracy;
  if (!a) return '—';
  const n = a.count;
  return `${formatPercent(a.value)} on ${formatCount(n)} ${SPLIT_WORDS[a.split] ?? a.split} image${n === 1 ? '' : 's'}`;
}

/** One line per model in a model picker: name, demo, state, and whether Predict uses it. */
export function modelOptionLabel(
  m: Pick<ModelSummary, 'id' | 'name' | 'demo' | 'status' | 'epoch' | 'epochs'>,
  activeId?: string,
): string {
  const state = statusText(m);
  return `${m.name}${m.demo ? ' (demo)' : ''}${state ? ` · ${state}` : ''}${m.id === activeId ? ' · used by Predict' : ''}`;
}
