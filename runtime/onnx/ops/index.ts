import type { KernelTable } from "../../kernels.js";
import type { OnnxValue } from "../graph.js";
import { input } from "./input.js";
import { toChannelsLast, toContiguous, clone } from "./layout.js";
import { conv2d, conv2dAdd, depthwiseConv2d, conv2dTranspose } from "./conv.js";
import { batchNorm, layerNorm } from "./norm.js";
import { relu, relu6, sigmoid, tanh, silu, hardsigmoid, hardswish, gelu, softmax } from "./activation.js";
import { dropout, stochasticDepth } from "./dropout.js";
import { add, sub, mul, div, floorDiv } from "./elementwise.js";
import { maxPool2d, avgPool2d, adaptiveAvgPool2d, adaptiveMaxPool2d } from "./pool.js";
import { interpolate, interpolateLike } from "./interpolate.js";
import { linear, linearAdd, layerNormLinear, matmul, einsum } from "./linear.js";
import { flatten, permute, reshape, concat, split, expand, rearrange } from "./shape.js";
import { mean, sum, max } from "./reduction.js";
import { index, gather } from "./indexing.js";
import { shapeOf, getitem } from "./python.js";
import { attention, multiHeadAttention } from "./attention.js";
import { patchMergingPad, relativePositionBias, shiftedWindowAttention } from "./swin.js";
import { customOp } from "./custom.js";

/**
 * The ONNX kernels: one per tfjs kernel, in files named as runtime/ops's, each adding to an
 * ONNX graph what its tfjs twin computes. Typed by the kernel contract: a kernel missing here
 * or with another signature fails tsc.
 */
export const onnxKernels = {
  input,
  toChannelsLast,
  toContiguous,
  clone,
  conv2d,
  conv2dAdd,
  depthwiseConv2d,
  conv2dTranspose,
  batchNorm,
  relu,
  relu6,
  sigmoid,
  tanh,
  silu,
  hardsigmoid,
  hardswish,
  gelu,
  dropout,
  add,
  sub,
  mul,
  div,
  floorDiv,
  maxPool2d,
  avgPool2d,
  adaptiveAvgPool2d,
  adaptiveMaxPool2d,
  interpolate,
  interpolateLike,
  flatten,
  linear,
  linearAdd,
  layerNormLinear,
  shapeOf,
  getitem,
  permute,
  reshape,
  concat,
  split,
  mean,
  sum,
  max,
  softmax,
  matmul,
  layerNorm,
  stochasticDepth,
  index,
  expand,
  attention,
  multiHeadAttention,
  einsum,
  gather,
  rearrange,
  patchMergingPad,
  relativePositionBias,
  shiftedWindowAttention,
  customOp,
} satisfies KernelTable<OnnxValue>;
