/**
 * The backbone folder (issue 16 item 2): a folder that is a copy of a catalog backbone IS that
 * backbone; any other model embeds with its last pooled feature layer, never a probability output;
 * the layer used is part of the stored name. Predict-time loads can be kept off the network.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src-main/engine/backends/index.js';
import {
  BackboneUnavailableError,
  BUILTIN_BACKBONES,
  loadBackbone,
  modelFolderChecksum,
} from '../../../src-main/engine/backbones/index.js';
import { importedName } from '../../../src-main/engine/backbones/imported.js';
import { cifarPhotos } from './photos.js';
import { V1, V2 } from './server.js';
import { saveLayersFolder } from '../../tfjs-folder.js';

let tmp: string;
beforeAll(async () => {
  await initBackend('wasm');
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'rank1-bbfolder-'));
  process.env.RANK1_HOME = path.join(tmp, 'home');
});
afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

/** conv (named feat) → [GAP named pool] → dense → softmax classifier. */
function classifier(withPool: boolean): tf.LayersModel {
  const input = tf.input({ shape: [16, 16, 3] });
  const feat = tf.layers
    .conv2d({ filters: 6, kernelSize: 3, name: 'feat', activation: 'relu' })
    .apply(input) as tf.SymbolicTensor;
  const flat = withPool
    ? (tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(feat) as tf.SymbolicTensor)
    : (tf.layers.flatten({ name: 'flat' }).apply(feat) as tf.SymbolicTensor);
  const probs = tf.layers
    .dense({ units: 3, activation: 'softmax', name: 'probs' })
    .apply(flat) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: probs });
}

describe('the backbone folder', () => {
  it('a copy of ../shared/models/mobilenet_v1_0.25_224 given as a path embeds exactly as --backbone mobilenet-v1-0.25', async () => {
    const copy = path.join(tmp, 'my mobilenet');
    await fs.cp(V1, copy, { recursive: true });
    const photos = await cifarPhotos(5, 32);
    const byName = await loadBackbone({ name: 'mobilenet-v1-0.25' });
    const byPath = await loadBackbone({ name: copy });
    try {
      const v1 = BUILTIN_BACKBONES.find((b) => b.name === 'mobilenet-v1-0.25')!;
      expect(byPath.name).toBe('mobilenet-v1-0.25');
      expect(byPath.sha256).toBe(v1.pin.sha256);
      expect(byPath.embeddingSize).toBe(256);
      const a = await byName.embed(photos, 5, [32, 32, 3]);
      const b = await byPath.embed(photos, 5, [32, 32, 3]);
      expect(Array.from(b)).toEqual(Array.from(a));
    } finally {
      byName.dispose();
      byPath.dispose();
    }
  });

  it('a model whose output is a softmax is never used as the embedding', async () => {
    const photos = await cifarPhotos(2, 16);
    // With a global pooling layer: that layer, named in the stored name.
    const pooled = path.join(tmp, 'pooled');
    const m1 = classifier(true);
    await saveLayersFolder(m1, pooled);
    m1.dispose();
    const bb = await loadBackbone({ name: pooled });
    try {
      // Registered under the data home; the layer used is part of the name.
      expect(bb.name).toBe(importedName(await modelFolderChecksum(pooled), 'pool'));
      expect(bb.embeddingSize).toBe(6);
      const e = await bb.embed(photos, 2, [16, 16, 3]);
      // ReLU features averaged: non-negative, and not a probability vector over 3 classes.
      expect(e.every((v) => v >= 0)).toBe(true);
    } finally {
      bb.dispose();
    }
    // Named explicitly: refused with one line naming a feature layer instead.
    await expect(loadBackbone({ name: `PATH:${pooled}#probs` })).rejects.toThrow(
      /"probs" outputs probabilities \(softmax\/sigmoid\), not features; use a feature layer such as "pool"/,
    );

    // Without pooling: the last spatial feature map (pooled by the embedder), not the softmax.
    const flat = path.join(tmp, 'flat');
    const m2 = classifier(false);
    await saveLayersFolder(m2, flat);
    m2.dispose();
    const bb2 = await loadBackbone({ name: flat });
    expect(bb2.name).toBe(importedName(await modelFolderChecksum(flat), 'feat'));
    expect(bb2.embeddingSize).toBe(6);
    bb2.dispose();

    // Nothing but a classifier: refused, asking for a layer.
    const only = path.join(tmp, 'only-softmax');
    const input = tf.input({ shape: [4, 4, 3] });
    const probs = tf.layers
      .dense({ units: 2, activation: 'softmax', name: 'p' })
      .apply(tf.layers.flatten().apply(input)) as tf.SymbolicTensor;
    const m3 = tf.model({ inputs: input, outputs: probs });
    await saveLayersFolder(m3, only);
    m3.dispose();
    await expect(loadBackbone({ name: only })).rejects.toThrow(
      /no feature layer found before the classifier/,
    );
  });

  it("the real MobileNet v1 folder's default layer is its pooled features, not the 1000-class softmax", async () => {
    // Named otherwise than the catalog's embedding, so it is not matched as the catalog backbone.
    const bb = await loadBackbone({ name: `PATH:${V1}#conv_pw_13_relu` });
    expect(bb.embeddingSize).toBe(256);
    bb.dispose();
    await expect(loadBackbone({ name: `PATH:${V1}#act_softmax` })).rejects.toThrow(
      /outputs probabilities.*"global_average_pooling2d_1"/,
    );
    await expect(loadBackbone({ name: `PATH:${V1}#reshape_2` })).rejects.toThrow(/outputs probabilities/);
  });

  it('a Teachable Machine export holding MobileNetV2 0.35 is mobilenet-v2-0.35 (weights fingerprint), kept for later loads', async () => {
    const bb = await loadBackbone({ name: V2 });
    try {
      expect(bb.name).toBe('mobilenet-v2-0.35');
      expect(bb.sha256).toBe(BUILTIN_BACKBONES.find((b) => b.name === 'mobilenet-v2-0.35')!.pin.sha256);
      expect(bb.embeddingSize).toBe(1280);
    } finally {
      bb.dispose();
    }
    // Cached, so a model trained on it loads with no download.
    const again = await loadBackbone(
      { name: 'mobilenet-v2-0.35' },
      { download: false, fetch: () => Promise.reject(new Error('no network')) },
    );
    expect(again.embeddingSize).toBe(1280);
    again.dispose();
  }, 120_000);

  it('download: false fails with one line instead of downloading', async () => {
    await fs.rm(path.join(tmp, 'home', 'backbones'), { recursive: true, force: true });
    let called = false;
    const err = await loadBackbone(
      { name: 'mobilenet-v2-0.35' },
      {
        download: false,
        fetch: () => {
          called = true;
          return Promise.reject(new Error('no'));
        },
      },
    ).catch((e: unknown) => e);
    expect(called).toBe(false);
    expect(err).toBeInstanceOf(BackboneUnavailableError);
    expect((err as Error).message).toMatch(/backbone "mobilenet-v2-0.35" is not on this computer/);
    expect((err as Error).message).not.toContain('\n');
    // The shipped backbone needs no download at all.
    const v1 = await loadBackbone({ name: 'mobilenet-v1-0.25' }, { download: false });
    v1.dispose();
  });
});
