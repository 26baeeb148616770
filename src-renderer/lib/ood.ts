/**
 * OOD scores in plain words: the one map of score names (imported by every view), the reason a
 * card gives for its flag, and the rates Evaluate shows, each defined once (see stats.ts) and
 * measured on the same images. Pure; tested in test/renderer/ood.test.ts.
 */
import {
  SCORE_NAMES,
  SCORE_WORDS,
  flagRule as ruleOf,
  scoreLabel,
  type EvaluateResult,
  type ModelSummary,
  type ScoreName,
} from '../../src-main/contract.js';
import { formatCount, formatPercent } from './format.js';
import { auroc, flaggedShare, fprAtTpr } from './stats.js';

/** The scores the engine computes, in its order: the one list lives in src-main/common/engine.ts. */
export const scoreNames = SCORE_NAMES;
export type { ScoreName };

export { scoreLabel };

interface ScoreWords {
  /** What a person reads in tables, menus and sentences (the one list: SCORE_WORDS in common). */
  label: string;
  /** The card's reason: what a high value means, the measured value and the typical range. */
  reason: (value: number, threshold: number) => string;
}

/** A score's value for a person: distances as whole numbers with separators, small values to 3 places. */
export function formatScore(v: number): string {
  if (!Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  const s =
    a >= 100 ? formatCount(Math.round(a)) : a >= 10 ? a.toFixed(1) : a >= 1 ? a.toFixed(2) : a.toFixed(3);
  return v < 0 ? `−${s}` : s;
}

export const scoreWords: Record<ScoreName, ScoreWords> = {
  entropy: {
    label: SCORE_WORDS.entropy.label,
    reason: (v, t) => `very uncertain (entropy ${formatScore(v)}; typical ≤ ${formatScore(t)})`,
  },
  mutual_information: {
    label: SCORE_WORDS.mutual_information.label,
    reason: (v, t) =>
      `the members disagree (mutual information ${formatScore(v)}; typical ≤ ${formatScore(t)})`,
  },
  max_prob: {
    label: SCORE_WORDS.max_prob.label,
    // The engine's score is 1 − max p̄ (higher = more unusual); people read the top probability.
    reason: (v, t) =>
      `no class stands out (top probability ${formatPercent(1 - v, 0)}; typical ≥ ${formatPercent(1 - t, 0)})`,
  },
  energy: {
    label: SCORE_WORDS.energy.label,
    reason: (v, t) => `weak evidence for every class (energy ${formatScore(v)}; typical ≤ ${formatScore(t)})`,
  },
  mahalanobis: {
    label: SCORE_WORDS.mahalanobis.label,
    reason: (v, t) => `unlike the training images (distance ${formatScore(v)}; typical ≤ ${formatScore(t)})`,
  },
  knn: {
    label: SCORE_WORDS.knn.label,
    reason: (v, t) => `unlike the training images (distance ${formatScore(v)}; typical ≤ ${formatScore(t)})`,
  },
};

function isScore(s: string): s is ScoreName {
  return (scoreNames as readonly string[]).includes(s);
}

/** The flag's rule with the app's numbers: "top probability < 88%", "entropy > 0.414". */
export function flagRule(score: string, threshold: number): string {
  return ruleOf(score, threshold, (v, percent) => (percent ? formatPercent(v, 0) : formatScore(v)));
}

/** "OOD: unlike the training images (distance 1,428; typical ≤ 561)" */
export function flagReason(flag: { score: string; value: number; threshold: number }): string {
  if (isScore(flag.score)) return scoreWords[flag.score].reason(flag.value, flag.threshold);
  return `${scoreLabel(flag.score)} ${formatScore(flag.value)}; typical ≤ ${formatScore(flag.threshold)}`;
}

/** Per-image values of a score, when the evaluation result carries them (entropy and MI always do). */
function valuesOf(
  items: readonly { entropy: number; mutualInformation: number; scores?: Record<string, number> }[],
  score: string,
): number[] | undefined {
  if (score === 'entropy') return items.map((i) => i.entropy);
  if (score === 'mutual_information') return items.map((i) => i.mutualInformation);
  const out: number[] = [];
  for (const i of items) {
    const v = i.scores?.[score];
    if (v === undefined) return undefined;
    out.push(v);
  }
  return out;
}

export interface ScoreRow {
  score: string;
  label: string;
  /** 1 = the score separates the OOD folder from these images perfectly, 0.5 = chance. */
  auroc: number;
  /** Share of OOD images missed with the threshold that keeps 95% of these images (stats.fprAtTpr). */
  fpr95: number;
}

/** One row per score, the engine's numbers when it sent them, else measured here from the items. */
export function scoreRows(result: EvaluateResult): ScoreRow[] {
  const ood = result.oodItems ?? [];
  if (!ood.length) return [];
  const o = result.ood;
  const fromEngine: Record<string, { auroc: number; fpr95: number } | undefined> = {
    ...(o && Number.isFinite(o.auroc_entropy)
      ? { entropy: { auroc: o.auroc_entropy, fpr95: o.fpr95_entropy } }
      : {}),
    ...(o && Number.isFinite(o.auroc_mi)
      ? { mutual_information: { auroc: o.auroc_mi, fpr95: o.fpr95_mi } }
      : {}),
    ...o?.scores,
  };
  const rows: ScoreRow[] = [];
  for (const score of scoreNames) {
    const m = fromEngine[score];
    if (m) {
      rows.push({ score, label: scoreLabel(score), auroc: m.auroc, fpr95: m.fpr95 });
      continue;
    }
    const a = valuesOf(result.items, score);
    const b = valuesOf(ood, score);
    if (a && b) rows.push({ score, label: scoreLabel(score), auroc: auroc(a, b), fpr95: fprAtTpr(a, b) });
  }
  return rows;
}

/** The score that best tells the OOD folder from these images: highest AUROC. */
export function bestScore(rows: readonly ScoreRow[]): ScoreRow | undefined {
  let best: ScoreRow | undefined;
  for (const r of rows) if (Number.isFinite(r.auroc) && (!best || r.auroc > best.auroc)) best = r;
  return best;
}

/** A sentence for an AUROC below 0.5 (a score that ranks the two sets backwards), else undefined. */
export function aurocNote(row: ScoreRow): string | undefined {
  if (!(row.auroc < 0.5)) return undefined;
  return (
    `${row.label} is higher on these images than on the OOD folder (AUROC ${row.auroc.toFixed(3)}, below ` +
    `the 0.5 of chance), so it ranks them backwards: the model is more unsure of its own kind of images than of ` +
    `these, which often means the OOD images look simpler (plain backgrounds, one bold shape). Use another score.`
  );
}

export interface FlagRates {
  score: string;
  label: string;
  threshold: number;
  /** Share of these in-distribution images the flag raises (score above threshold). */
  flaggedIn: number;
  /** Share of the OOD folder the flag raises, by the same rule. */
  caught: number;
  nIn: number;
  nOod: number;
  /** The share of the validation split the flag was fitted to raise at training (1 − TPR). */
  fittedRate: number;
}

/**
 * The model's flag measured on this evaluation's images, for the score the model uses now. The
 * engine's rates count only when they were measured with that score (`evaluatedScore`); after a
 * switch, they are recomputed from the items where the items carry the score, else undefined
 * (the caller evaluates again).
 */
export function flagRates(
  result: EvaluateResult,
  model: Pick<ModelSummary, 'ood'> | undefined,
  evaluatedScore: string | undefined,
): FlagRates | undefined {
  const flag = model?.ood;
  const ood = result.oodItems ?? [];
  if (!flag || !ood.length) return undefined;
  const threshold = flag.thresholds?.[flag.score] ?? flag.threshold;
  const base = {
    score: flag.score,
    label: scoreLabel(flag.score),
    threshold,
    nIn: result.items.length,
    nOod: ood.length,
    fittedRate: 1 - flag.tpr,
  };
  const a = valuesOf(result.items, flag.score);
  const b = valuesOf(ood, flag.score);
  if (a && b) return { ...base, flaggedIn: flaggedShare(a, threshold), caught: flaggedShare(b, threshold) };
  if (evaluatedScore === flag.score && result.ood && Number.isFinite(result.ood.in_flag_rate))
    return { ...base, flaggedIn: result.ood.in_flag_rate, caught: result.ood.ood_flag_rate };
  return undefined;
}

/** The summary sentence(s) under the table, in plain words. */
export function flagSummary(r: FlagRates, splitWords: string): string {
  const lines = [
    `The OOD flag uses ${r.label}: it flags an image when its ${flagRule(r.score, r.threshold)}.`,
    `It flags ${formatPercent(r.flaggedIn)} of these ${formatCount(r.nIn)} ${splitWords} ` +
      `images and catches ${formatPercent(r.caught)} of the ${formatCount(r.nOod)} images in the OOD folder.`,
    `It was set at training to flag ${formatPercent(r.fittedRate, 0)} of the validation split.`,
  ];
  // More than twice the fitted rate (and more than one image in twenty): say why it can differ.
  if (r.flaggedIn > Math.max(2 * r.fittedRate, 0.05) && r.nIn > 0)
    lines.push(
      'Here it flags more: these images are not the ones its threshold was fitted on (a small validation ' +
        'split, the test split added, or another folder), so the threshold sits lower than it should for them.',
    );
  return lines.join(' ');
}
