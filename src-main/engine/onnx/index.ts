/**
 * ONNX for the engine: the graph writer (graph.ts) shared by the ONNX Runtime embedder and the
 * model export, and the TF.js → ONNX layer converters (tfjs-layers.ts).
 */
export * from './graph.js';
