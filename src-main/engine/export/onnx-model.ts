/**
 * A saved model as one self-contained ONNX file (issue 17 item 2): uint8 pixels in, the Predict
 * card's numbers out, everything between inside the graph.
 *
 *   image      uint8 [N, H, W, C]  the pixels the app's decoder gives (data/prepareImage) at the
 *                                  model's size; normalisation (or the backbone's scaling) in-graph
 *   probs      float [N, classes]  the calibrated mixture p̄
 *   entropy, aleatoric, epistemic, ood_score  float [N]
 *   ood        bool  [N]            ood_score > the flag's threshold
 *
 * All M = S·K effective members run batched in the graph with the factor values prediction uses
 * (LoadedModel.predictionFactors, the one source); transfer models carry their backbone, converted
 * by engine/onnx. A layer that cannot be expressed throws UnsupportedLayerError naming it.
 */
import { readModelFolder, type ModelMeta } from '../model-format.js';
import { loadBackbone } from '../backbones/index.js';
import { assignWeights, statsFromWeights } from '../checkpoint.js';
import { membersOf } from '../defaults.js';
import { buildModel } from '../models/index.js';
import { BATCH, OnnxGraph, serializeModel } from '../onnx/graph.js';
import { convertLayersModel, globalAveragePool, UnsupportedLayerError } from '../onnx/tfjs-layers.js';
import type { ScoreName } from '../ood.js';
import { loadModel } from '../predict.js';
import { Rng } from '../random.js';
import { NetworkWriter, writeForward, type Rows } from './network.js';
import { writeUncertainty } from './uncertainty.js';

/** Input and output names of the exported graph (docs/export.md). */
export const ONNX_IO = {
  input: 'image',
  outputs: ['probs', 'entropy', 'aleatoric', 'epistemic', 'ood_score', 'ood'],
} as const;

/** What the file's producer_name says; a file with it may be replaced by a later export. */
export const ONNX_PRODUCER = 'rank1-studio';

export interface OnnxExport {
  bytes: Uint8Array;
  metadata: Record<string, string>;
  /** [H, W, C] of one input image. */
  imageShape: [number, number, number];
}

export interface OnnxExportOptions {
  /** Written to metadata_props (app_version). */
  appVersion?: string;
  /** S; default: the model's own (as `rank1 predict`). */
  samples?: number;
}

/** The model folder `dir` as ONNX bytes. */
export async function exportOnnx(dir: string, opts: OnnxExportOptions = {}): Promise<OnnxExport> {
  const loaded = await loadModel(dir);
  try {
    const meta = loaded.meta;
    const factors = await loaded.predictionFactors({ samples: opts.samples });
    const { weights } = await readModelFolder(dir);
    const model = buildModel(meta.config, new Rng(1));
    try {
      assignWeights(model, weights, dir);
      const stats = statsFromWeights(weights);
      const { size, channels } = meta.preprocessing;
      const imageShape: [number, number, number] = [size, size, channels];
      const g = new OnnxGraph(`rank1_${meta.config.arch}`);
      const image = g.input(ONNX_IO.input, [BATCH, ...imageShape], 'uint8');
      const pixels = g.op('Cast', [image], { to: 1 /* FLOAT */ });
      const w = new NetworkWriter(g, model, factors);
      const input = meta.backbone
        ? await backboneInput(g, meta, pixels, imageShape)
        : pixelInput(g, meta, pixels, imageShape);
      const net = writeForward(w, w.tile(input));
      const M = w.M;
      const D = net.features.shape[0]!;
      const feats = g.op('Reshape', [net.features.name, g.int64s('member_features', [-1, M, D])]);
      const features = g.op('ReduceMean', [feats], { axes: [1], keepdims: 0 });
      const u = writeUncertainty(g, {
        logits: net.logits,
        features,
        M,
        C: meta.classes.length,
        temperature: loaded.temperature,
        stats,
      });
      const flag = flagOf(meta);
      const score = u.scores[flag.score];
      if (!score)
        throw new UnsupportedLayerError(
          `OOD flag: the score "${flag.score}" needs feature statistics this model does not have`,
        );
      const C = meta.classes.length;
      g.node('Identity', [u.probs], {}, { outputs: ['probs'] });
      g.output('probs', [BATCH, C]);
      for (const [name, v] of [
        ['entropy', u.entropy],
        ['aleatoric', u.aleatoric],
        ['epistemic', u.epistemic],
        ['ood_score', score],
      ] as const) {
        g.node('Identity', [v], {}, { outputs: [name] });
        g.output(name, [BATCH]);
      }
      const threshold = g.initializer('ood/threshold', Float32Array.of(flag.threshold), []);
      g.node('Greater', [score, threshold], {}, { outputs: ['ood'] });
      g.output('ood', [BATCH], 'bool');
      const metadata = metadataOf(meta, {
        temperature: loaded.temperature,
        samples: factors.samples,
        effectiveMembers: M,
        appVersion: opts.appVersion,
      });
      return {
        bytes: serializeModel(g, {
          metadata,
          producerName: ONNX_PRODUCER,
          producerVersion: opts.appVersion ?? '',
          docString: `${meta.name}: rank-1 Bayesian neural network`,
        }),
        metadata,
        imageShape,
      };
    } finally {
      model.dispose();
    }
  } finally {
    loaded.dispose();
  }
}

/** The flag the model uses; none fitted: entropy with an infinite threshold (never flagged). */
function flagOf(meta: ModelMeta): { score: ScoreName; threshold: number } {
  return meta.ood
    ? { score: meta.ood.score as ScoreName, threshold: meta.ood.threshold }
    : { score: 'entropy', threshold: Infinity };
}

/** (p/255 − mean_c)/std_c as engine/inference.ts pixelsToTensor, then NCHW (or flat for mlp). */
function pixelInput(g: OnnxGraph, meta: ModelMeta, pixels: string, shape: [number, number, number]): Rows {
  const { mean, std } = meta.normalization;
  const scale = g.initializer('normalize/scale', Float32Array.from(std.map((s) => 1 / (255 * s))), [
    shape[2],
  ]);
  const shift = g.initializer('normalize/shift', Float32Array.from(mean.map((m, i) => m / std[i]!)), [
    shape[2],
  ]);
  const x = g.op('Sub', [g.op('Mul', [pixels, scale]), shift]);
  if (meta.config.arch === 'mlp') {
    const size = shape[0] * shape[1] * shape[2];
    return { name: g.op('Reshape', [x, g.int64s('flat', [-1, size])]), shape: [size] };
  }
  return { name: g.op('Transpose', [x], { perm: [0, 3, 1, 2] }), shape: [shape[2], shape[0], shape[1]] };
}

/**
 * The backbone's embedding, as engine/backbones/embedder.ts toInput + embeds it: bilinear resize
 * (half-pixel centres) to its input size, grey tiled to RGB, scaled to [−1, 1], the converted
 * network, spatial outputs averaged; for a fine-tuned model the network up to the cut, unpooled.
 */
async function backboneInput(
  g: OnnxGraph,
  meta: ModelMeta,
  pixels: string,
  shape: [number, number, number],
): Promise<Rows> {
  const fineTune = meta.config.fineTune;
  const backbone = await loadBackbone(meta.backbone!, {
    engine: 'tfjs',
    download: false,
    fineTune: fineTune?.blocks,
  });
  try {
    if (!backbone.net || !backbone.inputSize)
      throw new UnsupportedLayerError(`backbone ${backbone.name}: a graph model has no ONNX export`);
    const size = backbone.inputSize;
    let x = g.op('Transpose', [pixels], { perm: [0, 3, 1, 2] });
    if (shape[0] !== size || shape[1] !== size) {
      const sizes = g.op(
        'Concat',
        [
          g.op('Slice', [g.op('Shape', [x]), g.int64s('s0', [0]), g.int64s('s2', [2])]),
          g.int64s('hw', [size, size]),
        ],
        { axis: 0 },
      );
      x = g.op('Resize', [x, '', '', sizes], {
        mode: 'linear',
        coordinate_transformation_mode: 'half_pixel',
      });
    }
    if (shape[2] === 1) x = g.op('Tile', [x, g.int64s('grey_to_rgb', [1, 3, 1, 1])]);
    const scaled = g.op('Sub', [
      g.op('Div', [x, g.initializer('backbone/half_range', Float32Array.of(127.5), [])]),
      g.initializer('backbone/one', Float32Array.of(1), []),
    ]);
    const [y] = convertLayersModel(g, backbone.net, [{ name: scaled, rank: 4, nchw: true }]);
    // Fine-tuned: the prefix's map [C, H, W] (NCHW in the graph) goes to the blocks (network.ts).
    if (fineTune) {
      const [h, w, c] = fineTune.inputShape;
      return { name: y!.name, shape: [c, h, w] };
    }
    let e = globalAveragePool(g, y!);
    if (e.rank !== 2) e = { name: g.op('Flatten', [e.name], { axis: 1 }), rank: 2, nchw: false };
    return { name: e.name, shape: [backbone.embeddingSize] };
  } finally {
    backbone.dispose();
  }
}

function metadataOf(
  meta: ModelMeta,
  x: { temperature: number; samples: number; effectiveMembers: number; appVersion?: string },
): Record<string, string> {
  const flag = flagOf(meta);
  return {
    classes: JSON.stringify(meta.classes),
    preprocessing: JSON.stringify({
      ...meta.preprocessing,
      input: 'uint8 [N, H, W, C], H = W = size, C = channels (1 grey, 3 RGB)',
      normalization: meta.backbone
        ? 'backbone: resize to its input, grey to RGB, p/127.5 − 1'
        : meta.normalization,
    }),
    flag_score: flag.score,
    flag_threshold: String(flag.threshold),
    temperature: String(x.temperature),
    method: meta.config.method,
    arch: meta.config.arch,
    members: String(membersOf(meta.config)),
    samples: String(x.samples),
    effective_members: String(x.effectiveMembers),
    backbone: meta.backbone?.name ?? '',
    model_id: meta.id,
    model_name: meta.name,
    app_version: x.appVersion ?? '',
    outputs: ONNX_IO.outputs.join(','),
  };
}
