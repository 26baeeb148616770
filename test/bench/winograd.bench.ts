/**
 * Our wasm kernels (wasm-winograd.ts, wasm-memory-bound.ts) against the ones they replace, one thread,
 * on the ResNet-20 shapes at 64 rows (16 images × K = 4). CPU time per call (process.cpuUsage: a
 * loaded machine distorts it far less than wall time), the 25th percentile of `reps` calls.
 * Run: `npx tsx test/bench/winograd.bench.ts [rows=64] [reps=20]`; RANK1_WASM_RELAXED=0 measures the
 * plain SIMD128 build. Prints one JSON line per shape and kernel.
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmGradients } from '../../src-main/engine/backends/wasm-gradients.js';
import { setWasmMemoryBoundEnabled } from '../../src-main/engine/backends/wasm-memory-bound.js';
import { setWasmWinogradEnabled, wasmWinogradStatus } from '../../src-main/engine/backends/wasm-winograd.js';

const [rows = 64, reps = 20] = process.argv.slice(2, 4).map(Number);
await tf.setBackend('wasm');
registerWasmGradients();
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ')[0];

function cpuMs(f: () => void): number {
  f();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage();
    f();
    const c = process.cpuUsage(c0);
    ts.push((c.user + c.system) / 1000);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(reps / 4)]!;
}

/** Runs f with our kernels (Winograd, or the memory-bound ones) off, then on; returns both timings. */
function compare(f: () => void, toggle: (on: boolean) => void): { stock: number; ours: number } {
  toggle(false);
  const stock = cpuMs(f);
  toggle(true);
  const ours = cpuMs(f);
  return { stock, ours };
}

const variant = wasmWinogradStatus().variant;
for (const [hw, c] of [
  [32, 16],
  [16, 32],
  [8, 64],
] as const) {
  const x = tf.randomNormal([rows, hw, hw, c]) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, c, c]) as tf.Tensor4D;
  const dy = tf.randomNormal([rows, hw, hw, c]) as tf.Tensor4D;
  const gflop = (2 * rows * hw * hw * c * c * 9) / 1e9;
  const shape = `[${rows},${hw},${hw},${c}]→${c}`;
  const report = (kernel: string, t: { stock: number; ours: number }) =>
    console.log(
      JSON.stringify({
        kernel,
        shape,
        variant,
        stockMs: +t.stock.toFixed(2),
        oursMs: +t.ours.toFixed(2),
        stockGflops: +(gflop / (t.stock / 1e3)).toFixed(1),
        oursGflopsEquivalent: +(gflop / (t.ours / 1e3)).toFixed(1),
        speedup: +(t.stock / t.ours).toFixed(2),
        load: load(),
      }),
    );
  report(
    'Conv2D',
    compare(() => tf.conv2d(x, w, 1, 'same').dispose(), setWasmWinogradEnabled),
  );
  report(
    'Conv2DBackpropFilter',
    compare(
      () =>
        (
          tf.engine().runKernel(
            tf.Conv2DBackpropFilter,
            { x, dy },
            {
              strides: 1,
              pad: 'same',
              dataFormat: 'NHWC',
              filterShape: [3, 3, c, c],
            },
          ) as tf.Tensor
        ).dispose(),
      setWasmWinogradEnabled,
    ),
  );
  report(
    'Conv2DBackpropInput',
    compare(() => tf.conv2dTranspose(dy, w, x.shape, 1, 'same').dispose(), setWasmWinogradEnabled),
  );
  const r = tf.randomNormal([rows, 1, 1, c]);
  const v = tf.randomNormal([c]);
  for (const [kernel, f] of [
    ['Multiply [N,1,1,C]', () => tf.mul(x, r).dispose()],
    ['Add [C]', () => tf.add(x, v).dispose()],
    ['Sum over N,H,W', () => tf.sum(x, [0, 1, 2]).dispose()],
    ['Mean over H,W', () => tf.mean(x, [1, 2]).dispose()],
  ] as const) {
    const t = compare(f, setWasmMemoryBoundEnabled);
    console.log(
      JSON.stringify({
        kernel,
        shape: `[${rows},${hw},${hw},${c}]`,
        stockMs: +t.stock.toFixed(3),
        oursMs: +t.ours.toFixed(3),
        speedup: +(t.stock / t.ours).toFixed(2),
        load: load(),
      }),
    );
  }
  tf.dispose([x, w, dy, r, v]);
}
const im = tf.randomNormal([rows / 4, 32, 32, 3]);
const t = compare(() => tf.tile(im, [4, 1, 1, 1]).dispose(), setWasmMemoryBoundEnabled);
console.log(
  JSON.stringify({
    kernel: 'Tile ×4 (tileMembers)',
    shape: `[${rows / 4},32,32,3]`,
    stockMs: +t.stock.toFixed(3),
    oursMs: +t.ours.toFixed(3),
    speedup: +(t.stock / t.ours).toFixed(1),
    load: load(),
  }),
);
