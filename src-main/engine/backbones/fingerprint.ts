/**
 * The fingerprint of a backbone's weight VALUES: SHA-256 of "rank1-weights/1\n" followed, for each
 * weight of the embedding network in its own order, by its shape ("3x3x3x16\n") and its float32
 * bytes (little-endian). Unlike the folder checksum (model-files.ts) it does not depend on how a
 * folder packages the network: the same MobileNetV2 weights give the same fingerprint as Keras
 * Applications' `no_top` model (a plain model) and inside a Teachable Machine export (the nested
 * `layers[0]`), whatever the sharding, names or extra head layers around them.
 */
import crypto from 'node:crypto';
import type * as tf from '@tensorflow/tfjs';

export function weightsFingerprint(weights: readonly tf.LayerVariable[]): string {
  const h = crypto.createHash('sha256');
  h.update('rank1-weights/1\n');
  for (const w of weights) {
    const values = w.read().dataSync() as Float32Array;
    h.update(`${w.shape.join('x')}\n`);
    h.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  }
  return h.digest('hex');
}
