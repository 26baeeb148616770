/**
 * A worker thread holding one model replica on its own TensorFlow.js backend (wasm in Node has
 * one thread per backend, so each worker adds a core). It is stateless between requests: every
 * request that follows a weight change carries the weights (and BN moving statistics) to use.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backends/index.js';
import { tileMembers } from '../inference.js';
import { membersNllSum } from '../loss.js';
import { buildModel } from '../models/index.js';
import { disposeFixed, fixedFactorsFor, type PredictionFactors } from '../models/prediction-factors.js';
import { Rng } from '../random.js';
import type {
  Chunk,
  ForwardChunkResult,
  Request,
  Response,
  TrainChunkResult,
  Weights,
  WorkerInit,
} from './protocol.js';

const port = parentPort!;
const init = workerData as WorkerInit;
await initBackend(init.backend);
const model = buildModel(init.config, new Rng(0));
const params = model.params().map((p) => p.variable);
const state = model.state();
let version = -1;

function setWeights(w: Weights | undefined): void {
  if (!w || w.version === version) return;
  // tidy: assign() keeps the data, the temporary tensors must still be released.
  tf.tidy(() => {
    params.forEach((v, i) => v.assign(tf.tensor(w.params[i]!, v.shape)));
    state.forEach((v, i) => v.assign(tf.tensor(w.state[i]!, v.shape)));
  });
  version = w.version;
}

function input(c: Chunk): tf.Tensor {
  return tf.tensor(c.x, c.shape, 'float32');
}

function trainChunk(
  c: Chunk,
  K: number,
  totalRows: number,
  numClasses: number,
  objective?: 'mixture',
): TrainChunkResult {
  const rng = new Rng(c.seed);
  // Zeroed moving statistics read back as (1 − m)·batch statistics after the forward pass.
  tf.tidy(() => state.forEach((s) => s.assign(tf.zerosLike(s))));
  let nllT: tf.Scalar | undefined;
  let correctT: tf.Scalar | undefined;
  const x = input(c);
  const labels = tf.tensor1d(c.labels!, 'int32');
  const { value, grads } = tf.variableGrads(
    () =>
      tf.tidy(() => {
        const { logits } = model.forward(c.pretiled ? x : tileMembers(x, K), { training: true, rng });
        const yt = c.pretiled ? labels : tileMembers(labels, K);
        const nllSum = membersNllSum(logits, yt, numClasses, K, objective).sum;
        nllT = tf.keep(nllSum);
        correctT = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), yt), 'float32')) as tf.Scalar);
        return tf.div(nllSum, totalRows) as tf.Scalar;
      }),
    params,
  );
  const out: TrainChunkResult = {
    index: c.index,
    grads: params.map((v) => (grads[v.name] ? read(grads[v.name]!) : null)),
    nllSum: nllT!.dataSync()[0]!,
    correct: correctT!.dataSync()[0]!,
    stats: state.map(read),
  };
  tf.dispose([value, nllT!, correctT!, x, labels, ...Object.values(grads)]);
  version = -1; // the state was overwritten
  return out;
}

function forwardChunk(
  c: Chunk,
  K: number,
  samples: number,
  factors?: Pick<PredictionFactors, 'members' | 'layers'>,
): ForwardChunkResult {
  const rng = new Rng(c.seed);
  const x = input(c);
  let C = 0;
  let D = 0;
  const logits: Float32Array[] = [];
  const features: Float32Array[] = [];
  const tiled = tileMembers(x, K);
  for (let s = 0; s < samples; s++) {
    const fixed = factors && fixedFactorsFor(factors, s);
    const [l, f] = tf.tidy(() => {
      const o = model.forward(tiled, { training: false, rng, factors: fixed });
      return [o.logits, o.features];
    });
    if (fixed) disposeFixed(fixed);
    C = l!.shape[1]!;
    D = f!.shape[1]!;
    logits.push(read(l!));
    features.push(read(f!));
    tf.dispose([l!, f!]);
  }
  tf.dispose([x, tiled]);
  return { index: c.index, logits: concat(logits), features: concat(features), C, D };
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Own copies (a backend's readSync may return its storage), transferred rather than cloned. */
function read(t: tf.Tensor): Float32Array {
  return (t.dataSync() as Float32Array).slice();
}

function buffers(arrays: (Float32Array | null)[]): ArrayBuffer[] {
  return arrays.filter((a): a is Float32Array => a !== null).map((a) => a.buffer as ArrayBuffer);
}

function handle(req: Request): void {
  try {
    switch (req.type) {
      case 'train': {
        setWeights(req.weights);
        const results = req.chunks.map((c) =>
          trainChunk(c, req.K, req.totalRows, req.numClasses, req.objective),
        );
        const res: Response = { type: 'train', id: req.id, results, numTensors: tf.memory().numTensors };
        port.postMessage(res, buffers(results.flatMap((r) => [...r.grads, ...r.stats])));
        return;
      }
      case 'forward': {
        setWeights(req.weights);
        const results = req.chunks.map((c) => forwardChunk(c, req.K, req.samples, req.factors));
        const res: Response = { type: 'forward', id: req.id, results };
        port.postMessage(res, buffers(results.flatMap((r) => [r.logits, r.features])));
        return;
      }
      case 'close':
        model.dispose();
        port.postMessage({ type: 'closed', id: req.id } satisfies Response);
        port.close();
        return;
    }
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    port.postMessage({
      type: 'error',
      id: req.id,
      message: err.message,
      stack: err.stack,
    } satisfies Response);
  }
}

port.on('message', handle);
port.postMessage({ type: 'ready' } satisfies Response);
