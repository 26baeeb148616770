/**
 * The built-in backbones: where each is downloaded from, its recorded SHA-256 (see model-files.ts
 * for the definition) and which output is the embedding.
 */

import { NESTED_OR_WHOLE } from './embedder.js';

export interface BuiltinBackbone {
  name: string;
  /** The official download location of model.json. */
  url: string;
  /** Folder of model.json under an overriding base URL (the layout of ../shared/models). */
  mirrorPath: string;
  /**
   * What a copy must match. `folder`: the SHA-256 of the whole folder (model-files.ts), for a
   * backbone whose reference copy is a byte copy of the official files. `weights`: the fingerprint
   * of the embedding network's weight values (fingerprint.ts), where the reference copy packages the
   * official weights differently, so the official folder's own checksum could not be recorded.
   * Either way `sha256` is the backbone's identity in models and the feature cache.
   */
  pin: { kind: 'folder' | 'weights'; sha256: string };
  /** Layer whose output is the embedding; 'layers[0]' = the model's first layer (a nested model). */
  embedding: string;
  /**
   * Folder under the app's `resources/backbones/` holding a copy shipped with the app (used with
   * no download, after the same pin check); absent: downloaded on first use.
   */
  bundled?: string;
  embeddingSize: number;
  inputSize: number;
  description: string;
}

export const BUILTIN_BACKBONES: readonly BuiltinBackbone[] = [
  {
    name: 'mobilenet-v1-0.25',
    url: 'https://storage.googleapis.com/tfjs-models/tfjs/mobilenet_v1_0.25_224/model.json',
    mirrorPath: 'mobilenet_v1_0.25_224',
    // 55 shards + Keras 2.1.4 topology; the reference copy is a byte copy of Google's files.
    pin: { kind: 'folder', sha256: '6cdef2f108c61160bd58317991da35f97cf10ae8dd271bdea898926ec676f03e' },
    embedding: 'global_average_pooling2d_1',
    // Apache-2.0, 2 MB: shipped so photos train offline out of the box (issue 15; NOTICE beside it).
    bundled: 'mobilenet_v1_0.25_224',
    embeddingSize: 256,
    inputSize: 224,
    description: 'MobileNet v1 α=0.25, 224 px, ImageNet (Google, TF.js); 256-value embedding, 1.98 MB',
  },
  {
    name: 'mobilenet-v2-0.35',
    url: 'https://storage.googleapis.com/teachable-machine-models/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top/model.json',
    mirrorPath: 'mobilenet_v2_0.35_224_tm',
    // The official folder is Keras Applications' `no_top` network (output out_relu, 7×7×1280); the
    // reference copy in ../shared/models is a Teachable Machine export holding that same network
    // frozen as layers[0]. The official folder could not be fetched here, so the pin is the
    // fingerprint of the network's weight values (from the reference copy), which both packagings
    // share; `npx tsx test/bench/transfer-checksum.ts <folder>` prints both kinds for any folder.
    pin: { kind: 'weights', sha256: 'b2548cdf795be5f15b25c77e336916dbe7a32ffaf3312e551fe326ce6a031a68' },
    embedding: NESTED_OR_WHOLE,
    embeddingSize: 1280,
    inputSize: 224,
    description:
      'MobileNetV2 α=0.35, 224 px, ImageNet (Keras Applications via Teachable Machine); 1280-value embedding, 2.25 MB',
  },
];

export const DEFAULT_BACKBONE = 'mobilenet-v1-0.25';

export function builtinBackbone(name: string): BuiltinBackbone | undefined {
  return BUILTIN_BACKBONES.find((b) => b.name === name);
}

/**
 * The name an imported backbone is registered under (issue 15): `imported-` + 12 hex digits of
 * the SHA-256 of its folder checksum and embedding output. A model file may name only these and
 * the built-ins (never a path); the name resolves only inside the data home's backbones folder.
 */
export const IMPORTED_BACKBONE = /^imported-[0-9a-f]{12}$/;
