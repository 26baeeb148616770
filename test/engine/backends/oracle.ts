/**
 * Shared by the wasm kernel tests, which check each kernel against the cpu backend (the oracle):
 * seeded data, a relative error, and running a function on a chosen backend. tf.setBackend is
 * global, so every case computes on 'cpu' first, then on 'wasm', from the same plain arrays.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { expect } from 'vitest';
import { registerWasmGradients } from '../../../src-main/engine/backends/wasm-gradients.js';

/** Deterministic values in [offset, offset + 1) (a linear congruential generator). */
export function data(shape: readonly number[], seed: number, offset = -0.5): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32 + offset;
  });
}

/** Max |a − ref| relative to max(minScale, max |ref|). */
export function relErr(a: ArrayLike<number>, ref: ArrayLike<number>, minScale = 0): number {
  expect(a.length).toBe(ref.length);
  let diff = 0;
  let scale = minScale;
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - ref[i]!));
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return diff / scale;
}

export async function on<T>(backend: 'cpu' | 'wasm', f: () => T): Promise<T> {
  await tf.setBackend(backend);
  return f();
}

/** The wasm backend with the engine's kernels, then `extra` (each registration is idempotent). */
export async function wasmWithKernels(extra: () => void = () => {}): Promise<void> {
  await tf.setBackend('wasm');
  await tf.ready();
  registerWasmGradients();
  extra();
}
