/**
 * The OOD flag's rule in words, from the one list of score words (common/engine.ts SCORE_WORDS):
 * what `rank1 flag`, `rank1 train` and the Evaluate view print.
 */
import { SCORE_WORDS, type ScoreName } from '../common/index.js';

function wordsOf(score: string): (typeof SCORE_WORDS)[ScoreName] | undefined {
  return (SCORE_WORDS as Partial<Record<string, (typeof SCORE_WORDS)[ScoreName]>>)[score];
}

/** A score's name in words; an unknown name is shown as it came, underscores as spaces. */
export function scoreLabel(score: string): string {
  return wordsOf(score)?.label ?? score.replace(/_/g, ' ');
}

/**
 * The flag's rule as a person reads it, e.g. "top probability < 88.3%" or "entropy > 0.4143".
 * `format` writes the number (`percent` for a probability); an unknown score is shown as it came.
 */
export function flagRule(
  score: string,
  threshold: number,
  format: (value: number, percent: boolean) => string = (v, percent) =>
    percent ? `${(v * 100).toPrecision(3)}%` : v.toPrecision(4),
): string {
  const words = wordsOf(score);
  if (words?.complement) return `${words.quantity} < ${format(1 - threshold, true)}`;
  return `${words?.quantity ?? score} > ${format(threshold, false)}`;
}
