/**
 * The training NLL over member-major rows (spec §3), in-process (train.ts) and in the workers
 * (parallel/worker.ts): the sum over rows of −log p_k(y) (`average`, the reference code), or the
 * sum over the B examples of −log((1/K) Σ_k p_k(y)) (`mixture`, the objective the paper discusses).
 */
import * as tf from '@tensorflow/tfjs';
import type { Method, TrainConfig } from '../common/engine.js';

/** Σ NLL and the count it is a sum over (rows, or examples for the mixture). */
export function membersNllSum(
  logits: tf.Tensor,
  labels: tf.Tensor,
  numClasses: number,
  K: number,
  objective: TrainConfig['objective'],
): { sum: tf.Scalar; count: number } {
  const logLik = tf.sum(tf.mul(tf.oneHot(labels as tf.Tensor1D, numClasses), tf.logSoftmax(logits)), 1);
  const count = nllCount(logLik.shape[0]!, K, objective);
  // Fewer than the rows: the mixture, −log of each example's mean likelihood over the K members.
  if (count < logLik.shape[0]!)
    return {
      sum: tf.neg(tf.sum(tf.sub(tf.logSumExp(tf.reshape(logLik, [K, -1]), 0), Math.log(K)))) as tf.Scalar,
      count,
    };
  return { sum: tf.neg(tf.sum(logLik)) as tf.Scalar, count };
}

/** What the NLL of `rows` member-major rows is a mean over: the rows, or the examples (mixture). */
export function nllCount(rows: number, K: number, objective: TrainConfig['objective']): number {
  return objective === 'mixture' && K > 1 ? rows / K : rows;
}

/**
 * The weight of the mean NLL in the loss. An `ensemble` is K independent networks trained in one
 * job, and each must get the gradient of its own mean NLL, as if it were trained alone
 * (Lakshminarayanan et al. 2017); the mean over K·B rows gives it 1/K of that (with L2 at full
 * weight: a K× smaller step and a K× stronger weight decay). So its NLL weighs K: the loss is the
 * sum of the members' mean NLLs. Shared-weight methods keep the reference's mean over the rows
 * (spec §3), and the mixture objective its mean over the examples.
 */
export function nllWeight(method: Method, K: number, objective: TrainConfig['objective']): number {
  return method === 'ensemble' && objective !== 'mixture' ? K : 1;
}
