/** Small statistics for the Evaluate view: histograms, risk–coverage, AUROC. Pure functions. */

export interface Bin {
  x0: number;
  x1: number;
  count: number;
  /** count / total, so sets of different sizes can share one axis. */
  density: number;
}

/** Equal-width bins over [min, max]; the last bin is closed so `max` itself is counted. */
export function histogram(
  values: readonly number[],
  opts: { bins?: number; min?: number; max?: number } = {},
): Bin[] {
  const bins = Math.max(1, Math.floor(opts.bins ?? 20));
  const finite = values.filter((v) => Number.isFinite(v));
  const min = opts.min ?? (finite.length ? Math.min(...finite) : 0);
  let max = opts.max ?? (finite.length ? Math.max(...finite) : 1);
  if (!(max > min)) max = min + 1;
  const width = (max - min) / bins;
  const out: Bin[] = Array.from({ length: bins }, (_, i) => ({
    x0: min + i * width,
    x1: min + (i + 1) * width,
    count: 0,
    density: 0,
  }));
  let n = 0;
  for (const v of finite) {
    if (v < min || v > max) continue;
    const i = Math.min(bins - 1, Math.floor((v - min) / width));
    out[i]!.count++;
    n++;
  }
  for (const b of out) b.density = n ? b.count / n : 0;
  return out;
}

export interface RiskPoint {
  /** Accept predictions with confidence ≥ threshold. */
  threshold: number;
  accepted: number;
  coverage: number;
  accuracy: number;
  risk: number;
}

/**
 * Risk–coverage: sort by confidence, most confident first; after accepting the top k the coverage
 * is k/n and the accuracy is the share correct among them. One point per distinct confidence.
 */
export function riskCoverage(items: readonly { confidence: number; correct: boolean }[]): RiskPoint[] {
  const sorted = [...items].sort((a, b) => b.confidence - a.confidence);
  const n = sorted.length;
  const out: RiskPoint[] = [];
  let correct = 0;
  for (let k = 0; k < n; k++) {
    const it = sorted[k]!;
    if (it.correct) correct++;
    const next = sorted[k + 1];
    if (next && next.confidence === it.confidence) continue;
    const accepted = k + 1;
    const accuracy = correct / accepted;
    out.push({ threshold: it.confidence, accepted, coverage: accepted / n, accuracy, risk: 1 - accuracy });
  }
  return out;
}

/** The operating point for "accept predictions with confidence ≥ threshold". */
export function operatingPoint(
  curve: readonly RiskPoint[],
  threshold: number,
): { accepted: number; coverage: number; accuracy: number } {
  let best: RiskPoint | undefined;
  for (const p of curve) if (p.threshold >= threshold) best = p;
  return best
    ? { accepted: best.accepted, coverage: best.coverage, accuracy: best.accuracy }
    : { accepted: 0, coverage: 0, accuracy: NaN };
}

/** AUROC of telling `positives` (OOD) from `negatives` (in-distribution) by a higher score; ties count half. */
export function auroc(negatives: readonly number[], positives: readonly number[]): number {
  if (!negatives.length || !positives.length) return NaN;
  const all = [
    ...negatives.map((v) => ({ v, pos: false })),
    ...positives.map((v) => ({ v, pos: true })),
  ].sort((a, b) => a.v - b.v);
  // Mann–Whitney U with average ranks.
  let rankSumPos = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j + 1 < all.length && all[j + 1]!.v === all[i]!.v) j++;
    const avgRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (all[k]!.pos) rankSumPos += avgRank;
    i = j + 1;
  }
  const np = positives.length;
  const nn = negatives.length;
  return (rankSumPos - (np * (np + 1)) / 2) / (np * nn);
}

/** The share of in-distribution scores above the threshold that flags `tpr` of the OOD set. */
export function fprAtTpr(negatives: readonly number[], positives: readonly number[], tpr = 0.95): number {
  if (!negatives.length || !positives.length) return NaN;
  const pos = [...positives].sort((a, b) => b - a);
  const threshold = pos[Math.min(pos.length - 1, Math.ceil(tpr * pos.length) - 1)]!;
  return negatives.filter((v) => v >= threshold).length / negatives.length;
}
