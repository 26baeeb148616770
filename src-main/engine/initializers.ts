/**
 * Initializers as the reference uses them (spec §2, §4, §8).
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from './random.js';

/** Keras `he_normal` (TF2): truncated normal at 2σ with the variance correction 0.8796. */
export function heNormal(shape: number[], fanIn: number, rng: Rng): tf.Tensor {
  const stddev = Math.sqrt(2 / fanIn) / 0.8796256610342398;
  return tf.truncatedNormal(shape, 0, stddev, 'float32', rng.seed());
}

/** Random-sign location init: 2·Bernoulli(p) − 1 (spec §2, RandomSign); p ≤ 0 means N(1, −p). */
export function randomSign(shape: number[], pPlus: number, rng: Rng): tf.Tensor {
  if (pPlus <= 0) return tf.randomNormal(shape, 1, -pPlus, 'float32', rng.seed());
  const size = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) values[i] = rng.next() < pPlus ? 1 : -1;
  return tf.tensor(values, shape);
}

/** ρ0 = softplus⁻¹(σ0) = log(expm1(σ0)), computed in double precision (spec §8). */
export function inverseSoftplus(sigma: number): number {
  return Math.log(Math.expm1(sigma));
}
