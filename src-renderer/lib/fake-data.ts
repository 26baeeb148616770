/**
 * The fake service's data: seeded numbers, the demo model and hand-made prediction rows (also the
 * `?demoRows=N` dev hook), so screenshots and tests are stable.
 */
import type { PredictionRow, ModelSummary } from '../../src-main/contract.js';

/** Deterministic pseudo-random numbers so screenshots and tests are stable. */
export function rng(seed = 1): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

export const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
export const TINY_SVG = (hue: number) =>
  btoa(
    `<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32"><rect width="32" height="32" fill="hsl(${hue},60%,55%)"/></svg>`,
  );

/** Hand-made prediction rows (also the `?demoRows=N` dev hook). */
export function demoRows(n: number, classes: string[] = DIGITS, seed = 7): PredictionRow[] {
  const r = rng(seed);
  const k = classes.length;
  const maxH = Math.log(k);
  return Array.from({ length: n }, (_, i) => {
    const sharp = r() < 0.7 ? 8 : r() < 0.5 ? 2 : 0.3;
    const logits = classes.map(() => r() * sharp);
    const top = Math.floor(r() * k);
    logits[top]! += sharp;
    const z = logits.reduce((s, x) => s + Math.exp(x), 0);
    const probabilities = logits.map((x) => Math.exp(x) / z);
    const entropy = -probabilities.reduce((s, p) => s + (p > 0 ? p * Math.log(p) : 0), 0);
    const mutualInformation = entropy * (0.1 + 0.4 * r());
    const ood = mutualInformation > 0.35 * maxH * 0.5 && entropy > 0.5 * maxH;
    const labelIndex = probabilities.indexOf(Math.max(...probabilities));
    return {
      file: `/demo/img-${String(i).padStart(4, '0')}.png`,
      name: `img-${String(i).padStart(4, '0')}.png`,
      label: classes[labelIndex]!,
      labelIndex,
      confidence: probabilities[labelIndex]!,
      probabilities,
      entropy,
      expectedEntropy: entropy - mutualInformation,
      mutualInformation,
      ood,
      uncertain: entropy > 0.5 * maxH,
      ...(ood
        ? { flag: { score: 'mutualInformation', value: mutualInformation, threshold: 0.35 * maxH * 0.5 } }
        : {}),
      thumbnail: `data:image/svg+xml;base64,${TINY_SVG((labelIndex * 36) % 360)}`,
    };
  });
}

export function demoModel(over: Partial<ModelSummary> = {}): ModelSummary {
  return {
    id: 'demo-digits',
    name: 'Demo: handwritten digits',
    createdAt: '2024-01-01T00:00:00.000Z',
    classes: DIGITS,
    config: {
      arch: 'mlp',
      method: 'rank1',
      members: 4,
      posterior: 'gaussian',
      randomSignInit: 0.5,
      priorMean: 1,
      priorStddev: 0.1,
      initStddev: 0.03,
      inputShape: [28, 28, 1],
      numClasses: 10,
    },
    train: {
      epochs: 5,
      batchSize: 64,
      optimizer: 'sgd',
      learningRate: 0.05,
      warmupEpochs: 1,
      factorLrMultiplier: 1,
      lrDecayAt: [0.5],
      lrDecayRatio: 0.2,
      l2: 1e-4,
      klAnnealFraction: 0.25,
      augment: { crop: false, flip: false },
      seed: 0,
      evalSamples: 4,
    },
    preprocessing: { size: 28, channels: 1, fit: 'cover', background: { r: 255, g: 255, b: 255 } },
    ood: { score: 'mutualInformation', threshold: 0.4, tpr: 0.95 },
    demo: true,
    ...over,
  };
}
