/**
 * Compare's plain logic (no DOM, no runes): method names in words, the table's cells and which
 * row is best per column, and the CSV. The columns are the contract's `compareColumns`.
 */
import { compareColumns, METHOD_LABELS, type CompareRow, type Method } from '../../src-main/contract.js';
import { csvCell, formatNumber, formatPercent } from './format.js';

export type CompareColumn = (typeof compareColumns)[number];

/** A line under each method's name in the picker (its name is the contract's METHOD_LABELS). */
export const methodHints: Record<Method, string> = {
  rank1: 'K members sharing weights, each with its own rank-1 factors',
  deterministic: 'one plain network: the baseline',
  batchensemble: 'rank-1 members without the posterior',
  ensemble: 'K independent networks: K times the parameters',
  mcdropout: 'dropout kept on at prediction, several samples',
};

export const columnLabels: Record<CompareColumn, string> = {
  method: 'Method',
  accuracy: 'Accuracy',
  nll: 'NLL',
  ece: 'ECE',
  brier: 'Brier',
  auroc_flag: 'OOD AUROC (flag)',
  auroc_entropy: 'OOD AUROC (entropy)',
  parameters: 'Parameters',
  train_seconds: 'Training time (s)',
  predict_images_per_s: 'Prediction (images/s)',
};

/** Which way is better per measured column (method has none). */
const higherBetter: Partial<Record<CompareColumn, boolean>> = {
  accuracy: true,
  nll: false,
  ece: false,
  brier: false,
  auroc_flag: true,
  auroc_entropy: true,
  parameters: false,
  train_seconds: false,
  predict_images_per_s: true,
};

export function cellText(row: CompareRow, col: CompareColumn): string {
  const v = row[col];
  if (col === 'method') return METHOD_LABELS[row.method];
  if (typeof v !== 'number') return '—';
  if (col === 'accuracy') return formatPercent(v);
  if (col === 'parameters') return v.toLocaleString('en-US');
  if (col === 'train_seconds' || col === 'predict_images_per_s') return formatNumber(v, 1);
  return formatNumber(v, col === 'nll' || col === 'brier' ? 4 : 3);
}

/**
 * The best rows' methods per column, judged on the values as shown (cellText): rows that tie there
 * are all best, and a column where every row ties has none (nothing to single out). Only where two
 * or more rows have a value.
 */
export function bestPerColumn(rows: readonly CompareRow[]): Partial<Record<CompareColumn, Method[]>> {
  const out: Partial<Record<CompareColumn, Method[]>> = {};
  for (const col of compareColumns) {
    const dir = higherBetter[col];
    if (dir === undefined) continue;
    const valued = rows.filter((r) => typeof r[col] === 'number' && Number.isFinite(r[col]));
    if (valued.length < 2) continue;
    // The shown number, so 0.99996 and 1 (both "1.000") tie.
    const shown = (r: CompareRow) => Number(cellText(r, col).replace(/[,%]/g, ''));
    const values = valued.map(shown);
    const top = dir ? Math.max(...values) : Math.min(...values);
    const best = valued.filter((_, i) => values[i] === top).map((r) => r.method);
    if (best.length < valued.length) out[col] = best;
  }
  return out;
}

/** The table as CSV: the contract's column names as the header, raw numbers, empty for none. */
export function compareCsv(rows: readonly CompareRow[]): string {
  const lines = [compareColumns.join(',')];
  for (const r of rows) lines.push(compareColumns.map((c) => csvCell(r[c])).join(','));
  return `${lines.join('\n')}\n`;
}
