/** Runtime kernels: torch's semantics over tfjs, one family per file. Generated code calls these. */
export { input, InputShapeError } from "./input.js";
export { toChannelsLast, toContiguous, clone } from "./layout.js";
export { conv2d, conv2dAdd, depthwiseConv2d, conv2dTranspose } from "./conv2d.js";
export { batchNorm } from "./batchNorm.js";
export { relu, relu6, sigmoid, tanh, silu, hardsigmoid, hardswish, gelu, dropout } from "./activations.js";
export { add, sub, mul, div, floorDiv } from "./binary.js";
export { maxPool2d, avgPool2d, adaptiveAvgPool2d, adaptiveMaxPool2d } from "./pooling.js";
export { interpolate, interpolateLike } from "./interpolate.js";
export { flatten, linear, linearAdd, layerNormLinear, shapeOf, getitem } from "./tensorOps.js";
export { permute, reshape, concat, split, mean, sum, max, softmax, matmul, layerNorm, stochasticDepth, index, expand } from "./shapeOps.js";
export { attention, multiHeadAttention, einsum, gather } from "./attention.js";
export { rearrange } from "./rearrange.js";
export { patchMergingPad, relativePositionBias, shiftedWindowAttention } from "./swin.js";
export { customOp } from "./custom.js";
