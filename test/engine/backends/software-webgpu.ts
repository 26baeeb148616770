/**
 * Activates 'webgpu' on a software adapter (Mesa llvmpipe through Dawn) for the kernel tests, then
 * returns to cpu. Where none is found the WGSL tests say SKIPPED and why, except in CI
 * (CI=true): `.ci/run` installs the drivers, so there a missing adapter is a failure — `required`
 * is then true and `expectAdapter()` fails with the reason instead of skipping.
 */
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import { dawnProvider, initBackend, webgpuLoader } from '../../../src-main/engine/backends/index.js';

export interface SoftwareWebgpu {
  /** The adapter's description, e.g. 'llvmpipe-… (OpenGL ES) [software]'; '' when none. */
  device: string;
  /** Why no adapter was found; undefined when one was. */
  missing?: string;
  /** Skip the WGSL tests: no adapter and not in CI. */
  skip: boolean;
  /** A test body: fails (with the reason) when there is no adapter. */
  expectAdapter(): void;
}

export async function softwareWebgpu(label: string): Promise<SoftwareWebgpu> {
  let device = '';
  let missing: string | undefined;
  try {
    const info = await initBackend('webgpu', {
      loaders: { webgpu: webgpuLoader(dawnProvider, { allowSoftware: true }) },
    });
    device = info.device;
  } catch (e) {
    missing = `no software WebGPU adapter (${(e as Error).message}); install libvulkan1 + mesa-vulkan-drivers or libegl-mesa0 + libgl1-mesa-dri (.ci/run does)`;
  }
  await tf.setBackend('cpu');
  const inCI = process.env.CI === 'true';
  if (missing) console.log(`[${label}] ${inCI ? 'FAILING (CI)' : 'SKIPPED'}: ${missing}.`);
  else console.log(`[${label}] running on ${device}`);
  return {
    device,
    missing,
    skip: missing !== undefined && !inCI,
    expectAdapter: () => expect(missing, 'a software WebGPU adapter is required in CI').toBeUndefined(),
  };
}
