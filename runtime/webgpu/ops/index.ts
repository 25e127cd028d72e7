import type { KernelName, TfjsKernels } from "../../kernels.js";
import * as tfjsOps from "../../ops/index.js";
import { conv2d, conv2dAdd, depthwiseConv2d } from "./conv.js";
import { layerNorm } from "./norm.js";
import { softmax } from "./activation.js";
import { linear, linearAdd, layerNormLinear, matmul } from "./linear.js";
import { attention, multiHeadAttention } from "./attention.js";

/**
 * fxc's own WGSL kernels on tfjs's webgpu backend, in files named as runtime/ops's (the same
 * kernel contract, runtime/kernels.ts): each takes what the tfjs kernel of its name takes, runs its
 * shader where the operands fit it, and the tfjs kernel otherwise (another backend, gradients being
 * recorded, a dtype or shape it does not cover). Kernels not listed here are tfjs's.
 */
const own = {
  conv2d,
  conv2dAdd,
  depthwiseConv2d,
  linear,
  linearAdd,
  layerNormLinear,
  matmul,
  layerNorm,
  softmax,
  attention,
  multiHeadAttention,
} satisfies Partial<TfjsKernels>;

/** The kernels a program runs on webgpu with fxc's kernels on: fxc's where it has one, tfjs's for the rest. */
export const webgpuKernels: TfjsKernels = { ...tfjsOps, ...own };

/** The kernels fxc has a WGSL kernel for. */
export const OWN_WEBGPU_KERNELS: readonly KernelName[] = Object.keys(own) as KernelName[];
