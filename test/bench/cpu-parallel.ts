/**
 * rank1-resnet20 throughput on wasm over worker threads, for several worker counts / chunk sizes
 * in one process (back-to-back, so the machine's load is as similar as it gets).
 * Usage: npx tsx test/bench/cpu-parallel.ts [batch=128] [steps=3] [workers=1,2] [chunk=16] [predictChunk=32]
 */
import { readFileSync } from 'node:fs';
import { initBackend } from '../../src-main/engine/backends/index.js';
import { benchResnet20 } from '../../src-main/engine/bench.js';

const [batch = 128, steps = 3] = process.argv.slice(2, 4).map(Number);
const workers = (process.argv[4] ?? '1,2').split(',').map(Number);
const chunks = (process.argv[5] ?? '16').split(',').map(Number);
const pchunks = (process.argv[6] ?? '32').split(',').map(Number);
await initBackend('wasm');
for (const w of workers)
  for (const c of chunks)
    for (const pc of pchunks) {
      const load0 = readFileSync('/proc/loadavg', 'utf8').trim();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      // workers = 0: the in-process engine.
      const r = await benchResnet20({
        batch,
        members: 4,
        steps,
        workers: w,
        chunkExamples: c,
        predictChunkExamples: pc,
      });
      const cpu = process.cpuUsage(cpu0);
      const cpuShare = (cpu.user + cpu.system) / 1000 / (performance.now() - t0);
      const load1 = readFileSync('/proc/loadavg', 'utf8').trim();
      console.log(
        JSON.stringify({
          workers: w,
          chunk: c,
          predictChunk: pc,
          train: r[0]!.images_per_s,
          predict: r[1]!.images_per_s,
          trainMs: r[0]!.ms_per_step,
          predictMs: r[1]!.ms_per_step,
          cpusBusy: Math.round(cpuShare * 100) / 100,
          load: [load0, load1],
        }),
      );
    }
