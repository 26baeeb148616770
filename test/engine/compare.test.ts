import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src-main/engine/backends/index.js';
import { compareMethods } from '../../src-main/engine/compare.js';
import { loadGreySet, SHARED, split } from './helpers.js';

let dir: string;
beforeAll(async () => {
  await initBackend('wasm');
  dir = mkdtempSync(nodePath.join(tmpdir(), 'rank1-compare-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('compareMethods', () => {
  it('trains each method on the same split and seed and returns one row of the paper metrics each', async () => {
    const digits = await loadGreySet(nodePath.join(SHARED, 'data/mnist'), 12, ['0', '1', '2']);
    const letters = await loadGreySet(nodePath.join(SHARED, 'data/notmnist'), 4, ['A', 'B', 'C']);
    const { train, val } = split(digits.set, 4);
    const rows = await compareMethods({
      methods: ['deterministic', 'ensemble'],
      train: {
        train,
        val,
        classes: digits.classes,
        preprocessing: { size: 28, channels: 1, fit: 'cover', background: { r: 255, g: 255, b: 255 } },
        model: { arch: 'mlp', hidden: 8 },
        config: { epochs: 1, batchSize: 9, seed: 4 },
      },
      evaluate: val,
      ood: letters.set,
      outRoot: dir,
    });
    expect(rows.map((r) => r.method)).toEqual(['deterministic', 'ensemble']);
    for (const r of rows) {
      for (const k of ['accuracy', 'nll', 'ece', 'brier', 'auroc_flag', 'auroc_entropy'] as const) {
        expect(r[k]).toBeGreaterThanOrEqual(0);
        expect(Number.isFinite(r[k])).toBe(true);
      }
      expect(r.train_seconds).toBeGreaterThan(0);
      expect(r.predict_images_per_s).toBeGreaterThan(0);
      expect(r.modelDir).toBe(nodePath.join(dir, r.method));
    }
    // Four independent networks: four times the parameters of one.
    expect(rows[1]!.parameters).toBe(4 * rows[0]!.parameters);
  }, 120_000);
});
