/**
 * The built-in backbones: where each is downloaded from, its recorded SHA-256 (see model-files.ts
 * for the definition) and which output is the embedding.
 */

export interface BuiltinBackbone {
  name: string;
  /** The official download location of model.json. */
  url: string;
  /** Folder of model.json under an overriding base URL (the layout of /work/shared/models). */
  mirrorPath: string;
  /** SHA-256 of the folder as defined in model-files.ts, computed from the reference copy. */
  sha256: string;
  /** Layer whose output is the embedding; 'layers[0]' = the model's first layer (a nested model). */
  embedding: string;
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
    sha256: '6cdef2f108c61160bd58317991da35f97cf10ae8dd271bdea898926ec676f03e',
    embedding: 'global_average_pooling2d_1',
    embeddingSize: 256,
    inputSize: 224,
    description: 'MobileNet v1 α=0.25, 224 px, ImageNet (Google, TF.js); 256-value embedding, 1.98 MB',
  },
  {
    name: 'mobilenet-v2-0.35',
    url: 'https://storage.googleapis.com/teachable-machine-models/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top/model.json',
    mirrorPath: 'mobilenet_v2_0.35_224_tm',
    // Recorded from the Teachable Machine export in /work/shared/models (backbone = layers[0]).
    // The official no_top file was not reachable when this was written: if its bytes differ, its
    // checksum must be recorded here (npx tsx test/bench/transfer-checksum.ts <folder>).
    sha256: 'de31cd5b65acdfdc5214f97e079dbcc0b1bfd447a653a484d424730dfa54bf52',
    embedding: 'layers[0]',
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
