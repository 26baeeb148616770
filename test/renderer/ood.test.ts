import { describe, expect, it } from 'vitest';
import type { EvaluateResult } from '../../src-main/contract.js';
import {
  aurocNote,
  bestScore,
  flagRates,
  flagReason,
  flagRule,
  flagSummary,
  scoreLabel,
  scoreRows,
} from '../../src-renderer/lib/ood.js';
import { histogramPlot } from '../../src-renderer/lib/plots.js';
import { thresholdAtTpr } from '../../src-renderer/lib/stats.js';

/** 40 validation images and 20 OOD images with entropy and MI spread out and overlapping a little. */
function result(extra: Partial<EvaluateResult> = {}): EvaluateResult {
  const items = Array.from({ length: 40 }, (_, i) => ({
    file: `/val/${i}.png`,
    label: 0,
    predicted: 0,
    confidence: 0.9,
    entropy: i / 40,
    mutualInformation: ((i * 7) % 40) / 400,
  }));
  const oodItems = Array.from({ length: 20 }, (_, i) => ({
    file: `/ood/${i}.png`,
    entropy: 0.8 + i / 40,
    mutualInformation: ((i * 3) % 20) / 200,
    ood: false,
  }));
  return { model: 'm', split: 'held-out', metrics: {} as never, items, oodItems, ...extra };
}

describe('OOD scores in words', () => {
  it('names every score in words from one map', () => {
    expect(scoreLabel('mutual_information')).toBe('mutual information (epistemic)');
    expect(scoreLabel('mahalanobis')).toBe('distance to the training images (Mahalanobis)');
    expect(scoreLabel('some_new_score')).toBe('some new score');
  });

  it('gives a card reason with the value and the typical range', () => {
    expect(flagReason({ score: 'mahalanobis', value: 1427.903, threshold: 560.667 })).toBe(
      'unlike the training images (distance 1,428; typical ≤ 561)',
    );
    expect(flagReason({ score: 'max_prob', value: 0.66, threshold: 0.2 })).toBe(
      'no class stands out (top probability 34%; typical ≥ 80%)',
    );
    expect(flagReason({ score: 'mutual_information', value: 0.31, threshold: 0.05 })).toBe(
      'the members disagree (mutual information 0.310; typical ≤ 0.050)',
    );
  });
});

describe("the flag's rates and the table", () => {
  it('measures the summary with the table’s definitions on the same images', () => {
    const r = result();
    const inEntropy = r.items.map((i) => i.entropy);
    // A flag fitted the way the engine fits it, on these very images: it must flag ≤ 5% of them,
    // and catch exactly the OOD share the table's FPR at 95% TPR says is not missed.
    const model = { ood: { score: 'entropy', threshold: thresholdAtTpr(inEntropy, 0.95), tpr: 0.95 } };
    const rates = flagRates(r, model, 'entropy')!;
    const row = scoreRows(r).find((x) => x.score === 'entropy')!;
    expect(rates.flaggedIn).toBeLessThanOrEqual(0.05);
    expect(rates.flaggedIn).toBe(2 / 40);
    expect(rates.caught).toBeCloseTo(1 - row.fpr95, 12);
    expect(rates.nIn).toBe(40);
    expect(rates.nOod).toBe(20);
  });

  it('recomputes the summary when the flag’s score changes, and says when it cannot', () => {
    const r = result({
      ood: {
        n_ood: 20,
        auroc_entropy: 0.9,
        auroc_mi: 0.4,
        fpr95_entropy: 0.3,
        fpr95_mi: 0.9,
        ood_flag_rate: 0.75,
        in_flag_rate: 0.1,
        scores: { mahalanobis: { auroc: 0.97, fpr95: 0.05 } },
      },
    });
    const thresholds = { entropy: 0.5, mutual_information: 0.08, mahalanobis: 600 };
    const byEntropy = flagRates(
      r,
      { ood: { score: 'entropy', threshold: 0.5, tpr: 0.95, thresholds } },
      'mahalanobis',
    )!;
    const byMi = flagRates(
      r,
      { ood: { score: 'mutual_information', threshold: 0.08, tpr: 0.95, thresholds } },
      'mahalanobis',
    )!;
    expect(byEntropy.flaggedIn).toBe(r.items.filter((i) => i.entropy > 0.5).length / 40);
    expect(byMi.flaggedIn).toBe(r.items.filter((i) => i.mutualInformation > 0.08).length / 40);
    expect(byMi.label).toBe('mutual information (epistemic)');
    expect(flagSummary(byMi, 'held-out')).toContain('mutual information (epistemic)');
    // Mahalanobis per image is not in the items: the engine's rates hold only for the score it measured.
    const maha = { ood: { score: 'mahalanobis', threshold: 600, tpr: 0.95, thresholds } };
    expect(flagRates(r, maha, 'mahalanobis')).toMatchObject({ flaggedIn: 0.1, caught: 0.75 });
    expect(flagRates(r, maha, 'entropy')).toBeUndefined();
  });

  it('states the flag’s rule the way it reads: max_prob as the top probability falling below 1 − threshold', () => {
    const r = result({
      items: result().items.map((i) => ({ ...i, scores: { max_prob: 1 - i.confidence } })),
      oodItems: result().oodItems!.map((i) => ({ ...i, scores: { max_prob: 0.5 } })),
    });
    const rates = flagRates(r, { ood: { score: 'max_prob', threshold: 0.667, tpr: 0.95 } }, 'max_prob')!;
    const text = flagSummary(rates, 'held-out');
    expect(text).toContain(
      'The OOD flag uses low top probability: it flags an image when its top probability < 33%.',
    );
    expect(text).not.toMatch(/max_prob|> 0\.667/);
    // Every score has its rule in words from the one list.
    expect(flagRule('entropy', 0.5)).toBe('entropy > 0.500');
    expect(flagRule('mahalanobis', 1428.4)).toBe('Mahalanobis distance > 1,428');
    expect(flagRule('knn', 12.25)).toBe('k-NN distance > 12.3');
    expect(flagRule('energy', -5.9)).toBe('energy > −5.90');
    expect(flagRule('mutual_information', 0.009)).toBe('mutual information > 0.009');
  });

  it('explains a flag that raises more than it was fitted to', () => {
    const r = result();
    const rates = flagRates(r, { ood: { score: 'entropy', threshold: 0.6, tpr: 0.95 } }, 'entropy')!;
    expect(rates.flaggedIn).toBeCloseTo(15 / 40);
    const text = flagSummary(rates, 'held-out');
    expect(text).toContain('flags 37.5% of these 40 held-out images');
    expect(text).toContain('set at training to flag 5% of the validation split');
    expect(text).toMatch(/not the ones its threshold was fitted on/);
  });

  it('recommends the highest AUROC and explains one below 0.5', () => {
    const r = result({
      ood: {
        n_ood: 20,
        auroc_entropy: 0.079,
        auroc_mi: 0.6,
        fpr95_entropy: 1,
        fpr95_mi: 0.8,
        ood_flag_rate: 1,
        in_flag_rate: 0.05,
        scores: { mahalanobis: { auroc: 0.97, fpr95: 0.05 }, knn: { auroc: 0.93, fpr95: 0.2 } },
      },
    });
    const rows = scoreRows(r);
    expect(rows.map((x) => x.score)).toEqual(['entropy', 'mutual_information', 'mahalanobis', 'knn']);
    expect(bestScore(rows)?.score).toBe('mahalanobis');
    expect(aurocNote(rows[0]!)).toMatch(/entropy \(total uncertainty\) is higher on these images.*backwards/);
    expect(aurocNote(rows[2]!)).toBeUndefined();
  });

  it('draws histogram bars without a blend mode that hides them on the dark theme', () => {
    const opts = histogramPlot({ in: [{ x0: 0, x1: 1, count: 1, density: 1 }], ood: [] }, 'entropy');
    expect(JSON.stringify(opts)).not.toMatch(/multiply/);
  });
});
