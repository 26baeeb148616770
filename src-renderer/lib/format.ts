/** Human-readable numbers for progress bars, metrics and cards. Pure; tested in test/renderer. */

export function formatDuration(seconds: number | undefined | null): string {
  if (seconds == null || !Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  const h = Math.floor(m / 60);
  return `${h} h ${String(m % 60).padStart(2, '0')} min`;
}

export function formatRate(perSecond: number | undefined | null, unit = 'images'): string {
  if (perSecond == null || !Number.isFinite(perSecond) || perSecond <= 0) return '—';
  const digits = perSecond >= 100 ? 0 : perSecond >= 10 ? 1 : 2;
  return `${perSecond.toFixed(digits)} ${unit}/s`;
}

export function formatPercent(fraction: number | undefined | null, digits = 1): string {
  if (fraction == null || !Number.isFinite(fraction)) return '—';
  return `${(fraction * 100).toFixed(digits)}%`;
}

export function formatNumber(x: number | undefined | null, digits = 3): string {
  if (x == null || !Number.isFinite(x)) return '—';
  return x.toFixed(digits);
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** "1 class", "3 classes", "1,234 images": the count with the word that fits it. */
export function countOf(n: number, one: string, many: string): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

/** "1,234 / 3,000 · 45% · 120 images/s · 15 s left"; with `countUnit`: "37 / 148 steps · …". */
export function progressText(p: {
  done: number;
  total: number;
  rate?: number;
  etaSeconds?: number;
  unit?: string;
  /** What done/total count when it is not what the rate counts (training: steps, rate in images/s). */
  countUnit?: string;
}): string {
  const parts = [`${formatCount(p.done)} / ${formatCount(p.total)}${p.countUnit ? ` ${p.countUnit}` : ''}`];
  if (p.total > 0) parts.push(formatPercent(p.done / p.total, 0));
  if (p.rate && p.rate > 0) parts.push(formatRate(p.rate, p.unit));
  if (p.etaSeconds != null && Number.isFinite(p.etaSeconds) && p.done < p.total)
    parts.push(`${formatDuration(p.etaSeconds)} left`);
  return parts.join(' · ');
}

/** Escape a value for the CSV the browser builds itself (fallback when the service is away). */
export function csvCell(v: unknown): string {
  const s = v == null ? '' : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
