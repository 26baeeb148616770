/**
 * Test fixtures: TF.js LayersModel folders (model.json + weights.bin) written to disk, as a user's
 * own backbone folder or a mirror of a catalog one.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';

/** Saves a LayersModel as a TF.js folder: model.json and one weights.bin. */
export async function saveLayersFolder(model: tf.LayersModel, dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      await fs.writeFile(path.join(dir, 'weights.bin'), new Uint8Array(a.weightData as ArrayBuffer));
      const json = {
        format: a.format ?? 'layers-model',
        modelTopology: a.modelTopology,
        weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
      };
      await fs.writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
}

/** A tiny feature extractor (3×3 conv `feat` + ReLU + global average pool `pool`) on 16-px RGB. */
export async function saveTinyBackbone(dir: string, filters: number): Promise<void> {
  const input = tf.input({ shape: [16, 16, 3] });
  const conv = tf.layers
    .conv2d({ filters, kernelSize: 3, activation: 'relu', name: 'feat' })
    .apply(input) as tf.SymbolicTensor;
  const pool = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(conv) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: pool });
  await saveLayersFolder(model, dir);
  model.dispose();
}
