/**
 * Export for deployment (issue 17): a saved model as one self-contained ONNX file that keeps the
 * members, the calibration and the OOD flag (onnx-model.ts: the graph; network.ts: the rank-1
 * network with its members batched; uncertainty.ts: mixture, entropy split and OOD scores;
 * file.ts: writing without overwriting what is not ours).
 */
export { exportOnnx, ONNX_IO, ONNX_PRODUCER, type OnnxExport, type OnnxExportOptions } from './onnx-model.js';
export { writeExportFile, ExportTargetError } from './file.js';
export { UnsupportedLayerError } from '../onnx/tfjs-layers.js';
