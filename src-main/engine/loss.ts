/**
 * The training NLL over member-major rows (spec §3), in-process (train.ts) and in the workers
 * (parallel/worker.ts): the sum over rows of −log p_k(y) (`average`, the reference code), or the
 * sum over the B examples of −log((1/K) Σ_k p_k(y)) (`mixture`, the objective the paper discusses).
 */
import * as tf from '@tensorflow/tfjs';
import type { TrainConfig } from '../common/engine.js';

/** Σ NLL and the count it is a sum over (rows, or examples for the mixture). */
export function membersNllSum(
  logits: tf.Tensor,
  labels: tf.Tensor,
  numClasses: number,
  K: number,
  objective: TrainConfig['objective'],
): { sum: tf.Scalar; count: number } {
  const logLik = tf.sum(tf.mul(tf.oneHot(labels as tf.Tensor1D, numClasses), tf.logSoftmax(logits)), 1);
  if (objective === 'mixture' && K > 1)
    return {
      sum: tf.neg(tf.sum(tf.sub(tf.logSumExp(tf.reshape(logLik, [K, -1]), 0), Math.log(K)))) as tf.Scalar,
      count: logLik.shape[0]! / K,
    };
  return { sum: tf.neg(tf.sum(logLik)) as tf.Scalar, count: logLik.shape[0]! };
}
