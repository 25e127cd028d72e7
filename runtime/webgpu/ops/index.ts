import type { KernelName, TfjsKernels } from "../../kernels.js";
import * as tfjsOps from "../../ops/index.js";
import { conv2d, conv2dAdd, depthwiseConv2d, gemmConvolutions } from "./conv.js";
import { layerNorm } from "./norm.js";
import { softmax } from "./activation.js";
import { gemmProducts, linear, linearAdd, layerNormLinear, matmul } from "./linear.js";
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

/**
 * webgpuKernels "fxc-f16": fxc's kernels with every GEMM's products in half precision (f16
 * workgroup tiles and per-step partial sums, f32 accumulators, inputs, epilogue and outputs; see
 * runtime/webgpu/gemm.ts): conv2d, conv2dAdd, linear, linearAdd, layerNormLinear and matmul. The
 * other kernels stay f32 in this mode: the depthwise convolution, layer norm and softmax (row
 * kernels) and attention, as do tfjs's kernels wherever fxc's do not apply. Needs the device's
 * shader-f16 feature (the extractor checks it at load).
 */
export const webgpuF16Kernels: TfjsKernels = { ...webgpuKernels, ...gemmConvolutions("f16"), ...gemmProducts("f16") };

/** The kernels fxc has a WGSL kernel for. */
export const OWN_WEBGPU_KERNELS: readonly KernelName[] = Object.keys(own) as KernelName[];
