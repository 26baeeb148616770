/**
 * Conv2DRank1's fused path (engine/backends/webgpu): off the webgpu backend the layer computes exactly
 * what it did before; a hook sees the same factor draws in the same order; on a software WebGPU
 * adapter the fused layer (forward and every gradient) matches the cpu backend. Without such an
 * adapter that last part says SKIPPED and why.
 */
import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Conv2DRank1,
  setConv2DRank1Fast,
  type Conv2DRank1FastArgs,
  type FactorOptions,
} from '../../../src-main/engine/layers/rank1.js';
import { Rng } from '../../../src-main/engine/random.js';
import { TEST_FACTORS } from '../helpers.js';
import { softwareWebgpu } from '../backends/software-webgpu.js';
import { referenceImpl } from '../../../src-main/engine/backends/webgpu/rank1-conv.js';
import { kernelStats } from '../../../src-main/engine/backends/webgpu/index.js';

const opts: FactorOptions = { ...TEST_FACTORS, initStddev: 0.1 };

function layer(useBias: boolean, strides = 1): Conv2DRank1 {
  return new Conv2DRank1(
    { name: 'c', inChannels: 4, filters: 8, kernelSize: 3, strides, useBias },
    opts,
    new Rng(7),
  );
}

const input = (): tf.Tensor4D => tf.randomNormal([4, 6, 6, 4], 0, 1, 'float32', 3) as tf.Tensor4D;

afterEach(async () => {
  await tf.setBackend('cpu');
});

describe('Conv2DRank1 fused-path hook', () => {
  it('a hook that does not apply leaves the output bit-identical and is not run', async () => {
    await tf.setBackend('cpu');
    const l = layer(true);
    const before = await l.apply(input(), { training: true, rng: new Rng(5) }).data();
    let ran = 0;
    const previous = setConv2DRank1Fast({
      applies: () => false,
      run: () => {
        ran++;
        return tf.zeros([1, 1, 1, 1]);
      },
    });
    const after = await l.apply(input(), { training: true, rng: new Rng(5) }).data();
    setConv2DRank1Fast(previous);
    expect(ran).toBe(0);
    expect(Array.from(after)).toEqual(Array.from(before));
  });

  it('a hook gets the same draws in the same order (alpha, gamma, bias rows)', async () => {
    await tf.setBackend('cpu');
    for (const [useBias, strides] of [
      [false, 1],
      [true, 2],
    ] as const) {
      const l = layer(useBias, strides);
      const plain = await l.apply(input(), { training: true, rng: new Rng(9) }).data();
      let seen: Conv2DRank1FastArgs | undefined;
      const previous = setConv2DRank1Fast({
        applies: () => true,
        run: (a) => {
          seen = a;
          return referenceImpl.fused(a);
        },
      });
      const hooked = await l.apply(input(), { training: false, rng: new Rng(9) }).data();
      setConv2DRank1Fast(previous);
      expect(seen!.alpha.shape).toEqual([4, 4]);
      expect(seen!.gamma.shape).toEqual([4, 8]);
      expect(seen!.bias?.shape).toEqual(useBias ? [4, 8] : undefined);
      expect(seen!.strides).toBe(strides);
      expect(seen!.training).toBe(false);
      let diff = 0;
      for (let i = 0; i < plain.length; i++) diff = Math.max(diff, Math.abs(plain[i]! - hooked[i]!));
      expect(diff).toBeLessThan(1e-5);
    }
  });
});

// ------------------------------------------------------------------------ the layer on a software GPU

const gpu = await softwareWebgpu('rank-1 layer on webgpu');

/** Forward (training and inference) and gradients of every layer variable, as arrays. */
async function run(backend: 'webgpu' | 'cpu', useBias: boolean, strides: number): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const l = layer(useBias, strides);
  const x = input();
  const vars = l.params().map((p) => p.variable);
  const { value, grads } = tf.variableGrads(
    () => tf.sum(tf.square(l.apply(x, { training: true, rng: new Rng(11) }))) as tf.Scalar,
    vars,
  );
  const infer = l.apply(x, { training: false, rng: new Rng(12) });
  const out = [await value.data(), await infer.data()];
  for (const v of vars) out.push(await grads[v.name]!.data());
  l.dispose();
  return out as Float32Array[];
}

describe('Conv2DRank1 on a software WebGPU adapter vs cpu', () => {
  it.skipIf(gpu.skip)('has a software WebGPU adapter (required in CI)', () => gpu.expectAdapter());

  for (const [useBias, strides] of [
    [false, 1],
    [true, 2],
  ] as const) {
    it.skipIf(gpu.skip)(
      `bias ${useBias}, stride ${strides}: loss, inference output, all gradients`,
      async () => {
        const fused = kernelStats.rank1Forward;
        const gpu = await run('webgpu', useBias, strides);
        expect(kernelStats.rank1Forward, 'the fused kernels ran').toBeGreaterThanOrEqual(fused + 2);
        const cpu = await run('cpu', useBias, strides);
        for (let i = 0; i < cpu.length; i++) {
          let diff = 0;
          let scale = 0;
          for (let j = 0; j < cpu[i]!.length; j++) {
            diff = Math.max(diff, Math.abs(gpu[i]![j]! - cpu[i]![j]!));
            scale = Math.max(scale, Math.abs(cpu[i]![j]!));
          }
          expect(diff / scale, `output ${i}`).toBeLessThan(1e-4);
        }
      },
    );
  }
});
