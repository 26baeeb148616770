/** Sorting, filtering and summarising prediction rows. Pure; the state class wraps it. */
import type { PredictionRow } from '../../src-main/contract.js';
import { formatCount } from './format.js';

export type SortKey =
  'arrival' | 'entropy-desc' | 'entropy-asc' | 'confidence-desc' | 'confidence-asc' | 'name';
export type FlagFilter = 'all' | 'ood' | 'uncertain' | 'confident' | 'errors';

export const sortLabels: Record<SortKey, string> = {
  arrival: 'Order added',
  'entropy-desc': 'Entropy, highest first',
  'entropy-asc': 'Entropy, lowest first',
  'confidence-desc': 'Confidence, highest first',
  'confidence-asc': 'Confidence, lowest first',
  name: 'File name',
};
export const filterLabels: Record<FlagFilter, string> = {
  all: 'All',
  ood: 'OOD only',
  uncertain: 'Uncertain only',
  confident: 'Confident (not flagged)',
  errors: 'Errors only',
};

export interface RowFilter {
  flag: FlagFilter;
  /** Keep rows whose entropy is at least this many nats (0 = no limit). */
  minEntropy: number;
  text: string;
}

export function matches(r: PredictionRow, f: RowFilter): boolean {
  switch (f.flag) {
    case 'ood':
      if (!r.ood) return false;
      break;
    case 'uncertain':
      if (!r.uncertain) return false;
      break;
    case 'confident':
      if (r.ood || r.uncertain || r.error) return false;
      break;
    case 'errors':
      if (!r.error) return false;
      break;
  }
  if (f.minEntropy > 0 && !((r.entropy ?? -1) >= f.minEntropy)) return false;
  if (f.text) {
    const t = f.text.toLowerCase();
    if (!r.name.toLowerCase().includes(t) && !(r.label ?? '').toLowerCase().includes(t)) return false;
  }
  return true;
}

const val = (x: number | undefined, missing: number) => (x == null || Number.isNaN(x) ? missing : x);

export function sortRows(rows: readonly PredictionRow[], key: SortKey): PredictionRow[] {
  const out = [...rows];
  switch (key) {
    case 'arrival':
      return out;
    case 'entropy-desc':
      return out.sort((a, b) => val(b.entropy, -Infinity) - val(a.entropy, -Infinity));
    case 'entropy-asc':
      return out.sort((a, b) => val(a.entropy, Infinity) - val(b.entropy, Infinity));
    case 'confidence-desc':
      return out.sort((a, b) => val(b.confidence, -Infinity) - val(a.confidence, -Infinity));
    case 'confidence-asc':
      return out.sort((a, b) => val(a.confidence, Infinity) - val(b.confidence, Infinity));
    case 'name':
      return out.sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
  }
}

export function view(rows: readonly PredictionRow[], sort: SortKey, filter: RowFilter): PredictionRow[] {
  return sortRows(
    rows.filter((r) => matches(r, filter)),
    sort,
  );
}

export function summarise(rows: readonly PredictionRow[]): {
  total: number;
  ood: number;
  uncertain: number;
  errors: number;
} {
  let ood = 0,
    uncertain = 0,
    errors = 0;
  for (const r of rows) {
    if (r.ood) ood++;
    if (r.uncertain) uncertain++;
    if (r.error) errors++;
  }
  return { total: rows.length, ood, uncertain, errors };
}

/** The `k` most probable classes, for the probability bars. */
export function topClasses(
  r: PredictionRow,
  classes: readonly string[],
  k = 3,
): { label: string; p: number }[] {
  const probs = r.probabilities;
  if (!probs?.length) return r.label != null ? [{ label: r.label, p: r.confidence ?? 0 }] : [];
  return probs
    .map((p, i) => ({ label: classes[i] ?? String(i), p }))
    .sort((a, b) => b.p - a.p)
    .slice(0, k);
}

/** Rows without the bulky parts, as `predictions.csv` / `predictions.copy` want them. */
export function forExport(rows: readonly PredictionRow[]): PredictionRow[] {
  return rows.map(({ thumbnail: _t, probabilities: _p, ...rest }) => rest);
}

/** "4 image(s) · 2 OOD · 3 uncertain · 1 unreadable · showing 2", the line above the cards. */
export function summaryText(s: ReturnType<typeof summarise>, shown: number): string {
  let out = `${formatCount(s.total)} image(s) · ${formatCount(s.ood)} OOD · ${formatCount(s.uncertain)} uncertain`;
  if (s.errors) out += ` · ${formatCount(s.errors)} unreadable`;
  if (shown !== s.total) out += ` · showing ${formatCount(shown)}`;
  return out;
}
