/**
 * Transfer-learning benchmark (run: `npx tsx test/bench/transfer.bench.ts [--backbone mobilenet-v1-0.25]
 * [--epochs 5] [--ood 1000]`). CIFAR-10 train (10,000 images, 32 px) split 9,000/1,000; the backbone
 * is served from ../shared/models on 127.0.0.1 through the real download path. Times the first
 * embedding pass (and the cached second one) and every head epoch on wasm; reports val accuracy and
 * NLL of the backbone + rank-1 head, then OOD AUROC of CIFAR val vs MNIST and notMNIST (as RGB).
 * Prints one JSON line per measurement. Uses a fresh RANK1_HOME in the temp folder.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { importDataset } from '../../src-main/data/index.js';
import { initBackend } from '../../src-main/engine/backends/index.js';
import { loadBackbone, prepareTransfer } from '../../src-main/engine/backbones/index.js';
import { concat, subset } from '../../src-main/engine/example-sets.js';
import { loadModel } from '../../src-main/engine/predict.js';
import { trainModel } from '../../src-main/engine/train.js';
import { serveFolder } from '../engine/backbones/server.js';
import { SHARED } from '../shared-data.js';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : dflt;
};
const BACKBONE = arg('backbone', 'mobilenet-v1-0.25');
const EPOCHS = Number(arg('epochs', '5'));
const OOD_N = Number(arg('ood', '1000'));
const DATA = `${SHARED}/data`;

const home = await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-bench-transfer-'));
process.env.RANK1_HOME = home;
const server = await serveFolder(`${SHARED}/models`);
process.env.RANK1_BACKBONE_BASE_URL = server.url;
const line = (o: object) =>
  console.log(
    JSON.stringify({
      ...o,
      load: os.loadavg().map((v) => +v.toFixed(2)),
      maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    }),
  );
const secs = (t0: number) => +((performance.now() - t0) / 1000).toFixed(2);

try {
  const backend = await initBackend('wasm');
  line({ bench: 'backend', ...backend, cpus: os.cpus().length, cpu: os.cpus()[0]?.model });
  let t0 = performance.now();
  const ds = await importDataset(path.join(DATA, 'cifar10/train'), { imageSize: 32, valFraction: 0.1 });
  line({
    bench: 'import cifar10',
    train: ds.splits.train.count,
    val: ds.splits.val.count,
    seconds: secs(t0),
  });

  t0 = performance.now();
  const prepared = await prepareTransfer(BACKBONE, ds, {});
  const embedSeconds = secs(t0);
  const images = ds.splits.train.count + ds.splits.val.count;
  line({
    bench: `first embedding pass (${BACKBONE}, download + embed)`,
    images,
    seconds: embedSeconds,
    imagesPerSecond: Math.round(images / embedSeconds),
  });
  t0 = performance.now();
  await prepareTransfer(BACKBONE, ds, {});
  line({ bench: 'second embedding pass (feature cache)', images, seconds: secs(t0) });

  const outDir = path.join(home, 'model');
  t0 = performance.now();
  const meta = await trainModel({
    train: ds.splits.train,
    val: ds.splits.val,
    classes: ds.classes,
    preprocessing: ds.preprocessing,
    id: 'transfer-bench',
    outDir,
    backbone: prepared,
    config: { epochs: EPOCHS },
  });
  const trainSeconds = secs(t0);
  for (const h of meta.history) {
    line({
      bench: 'head epoch',
      epoch: h.epoch,
      seconds: +h.seconds.toFixed(2),
      trainAccuracy: +h.trainAccuracy.toFixed(4),
      valAccuracy: +h.valAccuracy.toFixed(4),
      valNll: +h.valNll.toFixed(4),
      valEce: +h.valEce.toFixed(4),
    });
  }
  line({
    bench: 'head training',
    arch: meta.config.arch,
    members: meta.config.members,
    epochs: EPOCHS,
    batchSize: meta.train.batchSize,
    seconds: trainSeconds,
    totalWithEmbedding: +(trainSeconds + embedSeconds).toFixed(2),
  });

  const model = await loadModel(outDir);
  for (const name of ['mnist', 'notmnist']) {
    t0 = performance.now();
    const ood = await importDataset(path.join(DATA, name), { imageSize: 32, channels: 3, valFraction: 0.1 });
    const all = concat([ood.splits.train, ood.splits.val, ood.splits.test]);
    const n = Math.min(OOD_N, all.count);
    const oodSet = subset(
      all,
      Array.from({ length: n }, (_, i) => Math.floor((i * all.count) / n)),
    );
    const report = await model.evaluate(ds.splits.val, { ood: oodSet });
    const scores = Object.fromEntries(
      Object.entries(report.ood?.scores ?? {}).map(([k, v]) => [
        k,
        { auroc: +v.auroc.toFixed(4), fpr95: +v.fpr95.toFixed(4) },
      ]),
    );
    line({
      bench: `OOD cifar10-val vs ${name}`,
      nIn: ds.splits.val.count,
      nOod: n,
      valAccuracy: +report.metrics.accuracy.toFixed(4),
      valNll: +report.metrics.nll.toFixed(4),
      scores,
      seconds: secs(t0),
    });
  }
  model.dispose();

  // Embedding throughput alone, warm backbone, 256 images not in any cache.
  const bb = await loadBackbone({ name: BACKBONE });
  const probe = subset(
    ds.splits.train,
    Array.from({ length: 256 }, (_, i) => i),
  );
  const px = await probe.read(Array.from({ length: 256 }, (_, i) => i));
  t0 = performance.now();
  await bb.embed(px, 256, [32, 32, 3]);
  line({
    bench: 'embed only (warm, 256 images, batch 32)',
    seconds: secs(t0),
    imagesPerSecond: Math.round(256 / secs(t0)),
  });
  bb.dispose();
} finally {
  await server.close();
  await fs.rm(home, { recursive: true, force: true });
}
