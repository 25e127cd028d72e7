/** Runtime kernels: torch's semantics over tfjs, one family per file. Generated code calls these. */
export { input, InputShapeError } from "./input.js";
export { toChannelsLast, toContiguous, clone } from "./layout.js";
export { conv2d, conv2dAdd, depthwiseConv2d, conv2dTranspose } from "./conv.js";
export { batchNorm } from "./norm.js";
export { relu, relu6, sigmoid, tanh, silu, hardsigmoid, hardswish, gelu, dropout } from "./activation.js";
export { add, sub, mul, div, floorDiv } from "./elementwise.js";
export { maxPool2d, avgPool2d, adaptiveAvgPool2d, adaptiveMaxPool2d } from "./pool.js";
export { interpolate, interpolateLike } from "./interpolate.js";
export { flatten, linear, linearAdd, layerNormLinear, shapeOf, getitem } from "./linear.js";
export { permute, reshape, concat, split, mean, sum, max, softmax, matmul, layerNorm, stochasticDepth, index, expand } from "./shape.js";
export { attention, multiHeadAttention, einsum, gather } from "./attention.js";
export { rearrange } from "./rearrange.js";
export { patchMergingPad, relativePositionBias, shiftedWindowAttention } from "./swin.js";
export { customOp } from "./custom.js";
