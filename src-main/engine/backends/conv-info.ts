/** Convolution geometry for the engine's own kernels (wasm and webgpu): channels-last, dilation 1. */
import * as tf from '@tensorflow/tfjs';

/** tfjs's own `computeConv2DInfo` for an NHWC input and an HWIO filter, dilation 1. */
export function nhwcConvInfo(
  xShape: readonly number[],
  filterShape: readonly number[],
  strides: number | [number, number],
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
}
