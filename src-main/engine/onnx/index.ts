/**
 * ONNX for the engine: the graph writer (graph.ts) shared by the ONNX Runtime embedder and the
 * model export, the TF.js → ONNX layer converters (tfjs-layers.ts), and ONNX Runtime sessions
 * with execution-provider fallback (runtime.ts).
 */
export * from './graph.js';
export * from './tfjs-layers.js';
export * from './runtime.js';
