import './dom-shims.js';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, render, screen } from '@testing-library/svelte';
import PredictionCard from '../../src-renderer/components/PredictionCard.svelte';
import type { PredictionRow } from '../../src-main/contract.js';

afterEach(() => cleanup());

const row = (over: Partial<PredictionRow> = {}): PredictionRow => ({
  file: '/data/7.png',
  name: '7.png',
  label: '7',
  labelIndex: 1,
  confidence: 0.9,
  probabilities: [0.1, 0.9],
  entropy: 0.33,
  expectedEntropy: 0.3,
  mutualInformation: 0.03,
  ood: false,
  ...over,
});
const props = { classes: ['1', '7'], maxEntropy: Math.LN2, uncertainAt: 0.5 };

describe('PredictionCard', () => {
  it("shows the model's warning (a model without an OOD threshold flags nothing; issue 13 item 3)", () => {
    const warning = 'this model has no OOD threshold (it was trained without validation images)';
    render(PredictionCard, { row: row({ warning }), ...props });
    expect(screen.getByRole('note').textContent).toBe(warning);
  });

  it('shows no note when the model has no warning', () => {
    render(PredictionCard, { row: row(), ...props });
    expect(screen.queryByRole('note')).toBeNull();
  });
});
