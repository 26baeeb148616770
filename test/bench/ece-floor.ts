/**
 * The ECE a perfectly calibrated classifier would still show on N test images: confidences are
 * drawn with a given mean (Kumaraswamy(a, 4 − a), a = 4·mean, clipped to [1/C, 1)), and each
 * image is "correct" with probability equal to its confidence, so any ECE left is sampling noise
 * of the 15-bin estimator (engine/metrics.ts). Prints one JSON row per (N, mean accuracy).
 *
 *   npx tsx test/bench/ece-floor.ts [--n 600,2000] [--acc 0.5,0.75,0.97] [--classes 10] [--runs 500]
 */
import { parseArgs } from 'node:util';
import { expectedCalibrationError } from '../../src-main/engine/metrics.js';
import { Rng } from '../../src-main/engine/random.js';

const { values: a } = parseArgs({
  options: {
    n: { type: 'string', default: '600,2000' },
    acc: { type: 'string', default: '0.5,0.75,0.97' },
    classes: { type: 'string', default: '10' },
    runs: { type: 'string', default: '500' },
  },
});
const list = (s: string) => s.split(',').map(Number);
const rng = new Rng(1);
const lowest = 1 / Number(a.classes);
for (const n of list(a.n)) {
  for (const acc of list(a.acc)) {
    const p = 4 * acc;
    const q = 4 - p;
    let sum = 0;
    for (let r = 0; r < Number(a.runs); r++) {
      const conf = Float64Array.from({ length: n }, () => {
        const x = (1 - (1 - rng.next()) ** (1 / q)) ** (1 / p);
        return Math.min(1 - 1e-6, Math.max(lowest, x));
      });
      const correct = Array.from(conf, (c) => rng.next() < c);
      sum += expectedCalibrationError(conf, correct);
    }
    console.log(JSON.stringify({ n, meanAccuracy: acc, expectedEce: +(sum / Number(a.runs)).toFixed(4) }));
  }
}
