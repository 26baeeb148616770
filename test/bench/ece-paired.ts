/**
 * Is one method's ECE really lower than another's on the same held-out images, or is the gap the
 * 15-bin estimator's sampling noise? A paired bootstrap over the test images of one
 * `rank1 compare` run (its models are kept under `<home>/comparisons/<stamp>/<method>`): every
 * resample draws the same images for every method. Prints one JSON row per method against the
 * first (`--against`, default rank1): both ECEs and NLLs, P(ECE lower) over the resamples and the
 * 90 % interval of the ECE and NLL differences.
 *
 *   npx tsx test/bench/ece-paired.ts COMPARISON_FOLDER [--against rank1] [--resamples 2000]
 */
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { prepareImage } from '../../src-main/data/decode.js';
import { expectedCalibrationError } from '../../src-main/engine/metrics.js';
import { loadModel } from '../../src-main/engine/predict.js';
import { Rng } from '../../src-main/engine/random.js';

const { values: a, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    against: { type: 'string', default: 'rank1' },
    resamples: { type: 'string', default: '2000' },
  },
});
const folder = positionals[0];
if (!folder) throw new Error('usage: ece-paired.ts COMPARISON_FOLDER [--against rank1] [--resamples N]');

interface Scored {
  confidence: Float64Array;
  correct: Uint8Array;
  /** −log p̄(y) per image. */
  loss: Float64Array;
}

/** The calibrated predictions of one model on its stored test list. */
async function score(dir: string): Promise<Scored & { files: readonly string[] }> {
  const model = await loadModel(dir);
  try {
    const { meta } = model;
    const files = meta.heldOut?.test ?? [];
    if (!files.length) throw new Error(`${dir}: the model has no test split`);
    const labelOf = (f: string) => {
      // The nearest folder above the file that names a class (ImageFolder, given splits too).
      const dirs = path
        .relative(meta.datasetRoot ?? '', f)
        .split(path.sep)
        .slice(0, -1)
        .reverse();
      const i = meta.classes.indexOf(dirs.find((d) => meta.classes.includes(d)) ?? '');
      if (i < 0) throw new Error(`${f}: no class folder in its path`);
      return i;
    };
    const size = meta.preprocessing.size ** 2 * meta.preprocessing.channels;
    const out: Scored = {
      confidence: new Float64Array(files.length),
      correct: new Uint8Array(files.length),
      loss: new Float64Array(files.length),
    };
    for (let start = 0; start < files.length; start += 256) {
      const batch = files.slice(start, start + 256);
      const px = new Uint8Array(batch.length * size);
      for (const [i, f] of batch.entries())
        px.set((await prepareImage(f, meta.preprocessing)).pixels, i * size);
      for (const [i, p] of (await model.predict(px, batch.length)).entries()) {
        const y = labelOf(batch[i]!);
        out.confidence[start + i] = p.confidence;
        out.correct[start + i] = p.labelIndex === y ? 1 : 0;
        out.loss[start + i] = -Math.log(Math.max(p.probabilities[y]!, 1e-12));
      }
    }
    return { ...out, files };
  } finally {
    model.dispose();
  }
}

const pick = (s: Scored, idx: Int32Array) => ({
  ece: expectedCalibrationError(
    Array.from(idx, (i) => s.confidence[i]!),
    Array.from(idx, (i) => s.correct[i]!),
  ),
  nll: idx.reduce((t, i) => t + s.loss[i]!, 0) / idx.length,
});
const quantile = (v: number[], q: number) => [...v].sort((x, y) => x - y)[Math.floor(q * (v.length - 1))]!;

const methods = readdirSync(folder).filter((m) => !m.startsWith('.'));
if (!methods.includes(a.against)) throw new Error(`${folder}: no "${a.against}" model`);
const scored = new Map<string, Scored & { files: readonly string[] }>();
for (const m of methods) scored.set(m, await score(path.join(folder, m)));
const base = scored.get(a.against)!;
const n = base.files.length;
const all = Int32Array.from({ length: n }, (_, i) => i);
const rng = new Rng(1);
for (const [m, s] of scored) {
  if (m === a.against) continue;
  if (s.files.join('\n') !== base.files.join('\n')) throw new Error(`${m}: not measured on the same images`);
  const dEce: number[] = [];
  const dNll: number[] = [];
  for (let r = 0; r < Number(a.resamples); r++) {
    const idx = Int32Array.from({ length: n }, () => Math.floor(rng.next() * n));
    const x = pick(base, idx);
    const y = pick(s, idx);
    dEce.push(x.ece - y.ece);
    dNll.push(x.nll - y.nll);
  }
  const x = pick(base, all);
  const y = pick(s, all);
  const r4 = (v: number) => +v.toFixed(4);
  console.log(
    JSON.stringify({
      method: a.against,
      other: m,
      n,
      ece: r4(x.ece),
      ece_other: r4(y.ece),
      p_ece_lower: r4(dEce.filter((d) => d < 0).length / dEce.length),
      ece_diff_90: [r4(quantile(dEce, 0.05)), r4(quantile(dEce, 0.95))],
      nll: r4(x.nll),
      nll_other: r4(y.nll),
      p_nll_lower: r4(dNll.filter((d) => d < 0).length / dNll.length),
      nll_diff_90: [r4(quantile(dNll, 0.05)), r4(quantile(dNll, 0.95))],
    }),
  );
}
process.exit(0);
