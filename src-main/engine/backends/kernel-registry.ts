/** Replacing a backend's kernels with the engine's own (wasm-*.ts, webgpu/). */
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs';

/**
 * Registers `make(previous)` as `backendName`'s `kernelName`, where `previous` is the kernel it
 * replaces (if any), for the cases ours hands back. The previous kernel's setup and dispose still
 * run (wasm's set up a cwrap per backend instance). Unregisters first: registerKernel would warn.
 */
export function overrideKernel(
  backendName: string,
  kernelName: string,
  make: (previous: KernelConfig | undefined) => KernelFunc,
): KernelConfig | undefined {
  const previous = tf.getKernel(kernelName, backendName);
  if (previous) tf.unregisterKernel(kernelName, backendName);
  tf.registerKernel({
    kernelName,
    backendName,
    setupFunc: previous?.setupFunc,
    disposeFunc: previous?.disposeFunc,
    kernelFunc: make(previous),
  });
  return previous;
}
