/**
 * ONNX export benchmark (run: `npx tsx test/bench/export.bench.ts [MODEL_DIR] [--images 1000]`;
 * default the demo model). Times the export, then prediction on the same decoded pixels by the
 * engine (`rank1 predict`'s path, the app's default backend and workers) and by the exported file
 * in onnxruntime-node (CPU, 2 threads) at batch 64 and batch 1. Prints one JSON line per figure.
 */
import { readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { prepareImage } from '../../src-main/data/index.js';
import { currentBackend, initBackend } from '../../src-main/engine/backends/index.js';
import { exportOnnx } from '../../src-main/engine/export/index.js';
import { createSession } from '../../src-main/engine/onnx/runtime.js';
import { loadModel } from '../../src-main/engine/predict.js';
import { SHARED } from '../shared-data.js';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : dflt;
};
const dir = process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : 'resources/demo/digits';
const N = Number(arg('images', '1000'));
const print = (o: Record<string, unknown>) =>
  console.log(JSON.stringify({ ...o, load: os.loadavg()[0]!.toFixed(1) }));

await initBackend('auto');
let t = performance.now();
const ex = await exportOnnx(dir);
print({ what: 'export', seconds: (performance.now() - t) / 1000, bytes: ex.bytes.length });

const model = await loadModel(dir);
const root = `${SHARED}/data/mnist`;
const files = readdirSync(root)
  .sort()
  .flatMap((c) => readdirSync(path.join(root, c)).map((f) => path.join(root, c, f)))
  .slice(0, N);
const per = ex.imageShape.reduce((a, b) => a * b, 1);
const px = new Uint8Array(files.length * per);
t = performance.now();
for (const [i, f] of files.entries())
  px.set((await prepareImage(f, model.meta.preprocessing)).pixels, i * per);
print({ what: 'decode (prepareImage)', images: files.length, seconds: (performance.now() - t) / 1000 });

await model.predict(px.subarray(0, 64 * per), 64); // warm-up (workers, kernels)
t = performance.now();
await model.predict(px, files.length);
const engineS = (performance.now() - t) / 1000;
print({
  what: 'engine predict',
  backend: currentBackend()?.device,
  images: files.length,
  seconds: engineS,
  perSecond: files.length / engineS,
});
model.dispose();

const s = await createSession(ex.bytes, { providers: ['cpu'], threads: 2 });
for (const batch of [64, 1]) {
  const run = async (n: number) => {
    for (let i = 0; i < n; i += batch) {
      const b = Math.min(batch, n - i);
      const x = new s.ort.Tensor('uint8', px.subarray(i * per, (i + b) * per), [b, ...ex.imageShape]);
      await s.session.run({ image: x });
    }
  };
  await run(Math.min(128, files.length));
  t = performance.now();
  await run(files.length);
  const sec = (performance.now() - t) / 1000;
  print({
    what: `onnxruntime-node batch ${batch}`,
    device: s.device,
    images: files.length,
    seconds: sec,
    perSecond: files.length / sec,
  });
}
await s.session.release();
process.exit(0);
