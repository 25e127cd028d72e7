import { tf, type Tensor, type Tensor4D } from "../../ops/tf.js";
import { conv2d as tfjsConv2d, type Conv2dAttrs, type FusedActivation } from "../../ops/conv2d.js";
import { gemmFits, runGemm, type ConvGeometry, type GemmLoader } from "../gemm.js";
import { ownKernelApplies } from "../program.js";

/**
 * torch.nn.functional.conv2d as fxc's implicit GEMM (runtime/webgpu/gemm.ts) over the NHWC input:
 * rows are the output's pixels (batch x OH x OW, read at run time), columns its channels, and the
 * HWIO filter is the [KH*KW*C, O] B matrix; A's rows are read from the input as im2col would lay
 * them out, so no im2col buffer is written (a 1x1 convolution with stride 1 and no padding reads
 * the input as a plain [pixels, C] matrix). Bias, an addend of the output's shape (a residual) and
 * the activation run in the product's epilogue: `act(conv + bias + addend)`.
 * Grouped convolutions (a list of per-group filters) and what the shader does not cover run
 * runtime/ops's conv2d (tfjs's).
 */

/** The im2col geometry of this convolution, or undefined when the operands are not a plain NHWC x HWIO convolution. */
export function convGeometry(input: Tensor, weight: Tensor, attrs: Conv2dAttrs): ConvGeometry | undefined {
  if (input.rank !== 4 || weight.rank !== 4 || (attrs.groups ?? 1) !== 1) return undefined;
  const [, inHeight, inWidth, channels] = input.shape as [number, number, number, number];
  const [kernelHeight, kernelWidth, filterChannels] = weight.shape as [number, number, number, number];
  const [strideHeight, strideWidth] = [attrs.stride[0] ?? 1, attrs.stride[1] ?? 1];
  const [padHeight, padWidth] = [attrs.padding[0] ?? 0, attrs.padding[1] ?? 0];
  const [dilationHeight, dilationWidth] = [attrs.dilation?.[0] ?? 1, attrs.dilation?.[1] ?? 1];
  const outHeight = Math.floor((inHeight + 2 * padHeight - dilationHeight * (kernelHeight - 1) - 1) / strideHeight) + 1;
  const outWidth = Math.floor((inWidth + 2 * padWidth - dilationWidth * (kernelWidth - 1) - 1) / strideWidth) + 1;
  if (filterChannels !== channels || outHeight <= 0 || outWidth <= 0) return undefined;
  return { inHeight, inWidth, channels, kernelHeight, kernelWidth, strideHeight, strideWidth, padHeight, padWidth, dilationHeight, dilationWidth, outHeight, outWidth };
}

/** The loader for this geometry: a 1x1 convolution that keeps every pixel reads its input as a matrix. */
export function convLoader(conv: ConvGeometry): GemmLoader {
  const pointwise = conv.kernelHeight === 1 && conv.kernelWidth === 1 && conv.strideHeight === 1 && conv.strideWidth === 1 && conv.padHeight === 0 && conv.padWidth === 0;
  return pointwise ? { kind: "matrix" } : { kind: "im2col", conv };
}

/**
 * The convolution with `addend` (of the output's shape) added before the activation. The kernel
 * contract's conv2d passes none; a fused residual (conv2dAdd) passes one.
 */
export function conv2dWithAddend(input: Tensor, weight: Tensor, bias: Tensor | null, addend: Tensor | null, attrs: Conv2dAttrs): Tensor4D | undefined {
  if (!ownKernelApplies(input, weight, bias, addend) || (bias !== null && bias.rank !== 1)) return undefined;
  const conv = convGeometry(input, weight, attrs);
  if (conv === undefined) return undefined;
  const images = input.shape[0]!;
  const outChannels = weight.shape[3]!;
  const shape: [number, number, number, number] = [images, conv.outHeight, conv.outWidth, outChannels];
  if (addend !== null && addend.shape.join() !== shape.join()) return undefined;
  const m = images * conv.outHeight * conv.outWidth;
  const k = conv.kernelHeight * conv.kernelWidth * conv.channels;
  if (!gemmFits(1, m, outChannels)) return undefined;
  const loader = convLoader(conv);
  const activation: FusedActivation | undefined = attrs.activation;
  return tf.tidy(() => {
    const y = runGemm({
      a: loader.kind === "matrix" ? tf.reshape(input, [1, m, k]) : input,
      b: tf.reshape(weight, [k, outChannels]),
      bias,
      addend,
      activation,
      loader,
      batch: 1,
      m,
      k,
      n: outChannels,
      aBatched: false,
      bBatched: false,
    });
    return tf.reshape(y, shape);
  });
}

/** runtime/ops's conv2d (same signature): fxc's implicit GEMM on webgpu where it applies, tfjs's kernel otherwise. */
export function conv2d(input: Tensor, weight: Tensor | readonly Tensor[], bias: Tensor | readonly Tensor[] | null, attrs: Conv2dAttrs): Tensor4D {
  if (Array.isArray(weight) || Array.isArray(bias)) return tfjsConv2d(input, weight, bias, attrs);
  return conv2dWithAddend(input, weight as Tensor, bias as Tensor | null, null, attrs) ?? tfjsConv2d(input, weight, bias, attrs);
}
