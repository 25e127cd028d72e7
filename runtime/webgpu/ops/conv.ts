import { conv2d as tfjsConv2d, conv2dAdd as tfjsConv2dAdd, depthwiseConv2d as tfjsDepthwiseConv2d, type Conv2dAttrs } from "../../ops/conv.js";
import type { ConvActivation } from "../../ops/support/activation.js";
import { windowCount } from "../../ops/support/conv.js";
import { tf, type Tensor, type Tensor4D } from "../../ops/tf.js";
import type { TfjsKernels } from "../../kernels.js";
import { activationWgsl, conjunction, gemmFits, geometryKey, guarded, runGemm, type ConvGeometry, type GemmLoader, type GemmPrecision } from "../gemm.js";
import { MAX_WORKGROUPS_PER_DIMENSION, ownKernelApplies, runProgram, type WebgpuProgram } from "../program.js";

/**
 * torch.nn.functional.conv2d as fxc's implicit GEMM (runtime/webgpu/gemm.ts) over the NHWC input:
 * rows are the output's pixels (batch x OH x OW, read at run time), columns its channels, and the
 * HWIO filter is the [KH*KW*C, O] B matrix; A's rows are read from the input as im2col would lay
 * them out, so no im2col buffer is written (a 1x1 convolution with stride 1 and no padding reads
 * the input as a plain [pixels, C] matrix). Bias, an addend of the output's shape (a residual) and
 * the activation run in the product's epilogue: `act(conv + bias + addend)`.
 * Grouped convolutions (a list of per-group filters) and what the shader does not cover run
 * runtime/ops's conv2d (tfjs's). With webgpuKernels "fxc-f16" the GEMM's products are computed in
 * half precision (gemm.ts's GemmPrecision); the depthwise kernel stays f32 in every mode.
 */

/** The im2col geometry of this convolution, or undefined when the operands are not a plain NHWC x HWIO convolution. */
export function convGeometry(input: Tensor, weight: Tensor, attrs: Conv2dAttrs): ConvGeometry | undefined {
  if (input.rank !== 4 || weight.rank !== 4) return undefined;
  const [, inHeight, inWidth, channels] = input.shape as [number, number, number, number];
  const [kernelHeight, kernelWidth, filterChannels] = weight.shape as [number, number, number, number];
  const [strideHeight, strideWidth] = [attrs.stride[0] ?? 1, attrs.stride[1] ?? 1];
  const [padHeight, padWidth] = [attrs.padding[0] ?? 0, attrs.padding[1] ?? 0];
  const [dilationHeight, dilationWidth] = [attrs.dilation?.[0] ?? 1, attrs.dilation?.[1] ?? 1];
  const outHeight = windowCount(inHeight, kernelHeight, strideHeight, padHeight, padHeight, dilationHeight);
  const outWidth = windowCount(inWidth, kernelWidth, strideWidth, padWidth, padWidth, dilationWidth);
  if (filterChannels !== channels || outHeight <= 0 || outWidth <= 0) return undefined;
  return { inHeight, inWidth, channels, kernelHeight, kernelWidth, strideHeight, strideWidth, padHeight, padWidth, dilationHeight, dilationWidth, outHeight, outWidth };
}

/** The loader for this geometry: a 1x1 convolution that keeps every pixel reads its input as a matrix. */
export function convLoader(conv: ConvGeometry): GemmLoader {
  const pointwise = conv.kernelHeight === 1 && conv.kernelWidth === 1 && conv.strideHeight === 1 && conv.strideWidth === 1 && conv.padHeight === 0 && conv.padWidth === 0;
  return pointwise ? { kind: "matrix" } : { kind: "im2col", conv };
}

/**
 * The convolution with `addend` (of the output's shape) added before the activation, its products
 * in `precision`. The kernel contract's conv2d passes no addend; a fused residual (conv2dAdd) passes one.
 */
export function conv2dWithAddend(input: Tensor, weight: Tensor, bias: Tensor | null, addend: Tensor | null, attrs: Conv2dAttrs, precision: GemmPrecision): Tensor4D | undefined {
  if (!ownKernelApplies(input, weight, bias, addend) || (bias !== null && bias.rank !== 1) || (attrs.groups ?? 1) !== 1) return undefined;
  const conv = convGeometry(input, weight, attrs);
  if (conv === undefined) return undefined;
  const images = input.shape[0]!;
  const outChannels = weight.shape[3]!;
  const shape: [number, number, number, number] = [images, conv.outHeight, conv.outWidth, outChannels];
  if (addend !== null && addend.shape.join() !== shape.join()) return undefined;
  const m = images * conv.outHeight * conv.outWidth;
  const k = conv.kernelHeight * conv.kernelWidth * conv.channels;
  if (!gemmFits(1, m, k, outChannels)) return undefined;
  const loader = convLoader(conv);
  const activation: ConvActivation | undefined = attrs.activation;
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
      precision,
    });
    return tf.reshape(y, shape);
  });
}

/**
 * runtime/ops's conv2d and conv2dAdd (same signatures) with the implicit GEMM's products in
 * `precision`: fxc's kernel on webgpu where it applies, tfjs's (fp32) otherwise. conv2dAdd adds
 * the residual in the GEMM's epilogue, before the activation.
 */
export function gemmConvolutions(precision: GemmPrecision): Pick<TfjsKernels, "conv2d" | "conv2dAdd"> {
  return {
    conv2d(input, weight, bias, attrs) {
      if (Array.isArray(weight) || Array.isArray(bias)) return tfjsConv2d(input, weight, bias, attrs);
      return conv2dWithAddend(input, weight as Tensor, bias as Tensor | null, null, attrs, precision) ?? tfjsConv2d(input, weight, bias, attrs);
    },
    conv2dAdd(input, weight, bias, addend, attrs) {
      if (Array.isArray(weight) || Array.isArray(bias)) return tfjsConv2dAdd(input, weight, bias, addend, attrs);
      return conv2dWithAddend(input, weight as Tensor, bias as Tensor | null, addend, attrs, precision) ?? tfjsConv2dAdd(input, weight, bias, addend, attrs);
    },
  };
}

/** runtime/ops's conv2d and conv2dAdd on fxc's implicit GEMM in f32 (webgpuKernels "fxc"). */
export const { conv2d, conv2dAdd } = gemmConvolutions("f32");

/** Threads per depthwise workgroup, each computing 4 channels of one output pixel (one channel when C is not a multiple of 4). */
const DEPTHWISE_WORKGROUP = 64;

/**
 * The WGSL body of a depthwise convolution (one filter per channel, multiplier 1) for this
 * geometry: one thread per output pixel and 4 channels (vec4 reads of input and filter when C
 * is a multiple of 4), the KH x KW taps unrolled with constant offsets, the padding checked only
 * along an axis that has some, bias and activation before the store. The batch is read at run time.
 */
export function depthwiseShader(conv: ConvGeometry, bias: boolean, activation: ConvActivation | undefined): string {
  const vec4 = conv.channels % 4 === 0;
  const lanes = vec4 ? conv.channels / 4 : conv.channels;
  const type = vec4 ? "vec4<f32>" : "f32";
  const taps: string[] = [];
  for (let kh = 0; kh < conv.kernelHeight; kh++) {
    for (let kw = 0; kw < conv.kernelWidth; kw++) {
      const [ih, iw] = [`ih0 + ${kh * conv.dilationHeight}`, `iw0 + ${kw * conv.dilationWidth}`];
      const check = conjunction(conv.padHeight > 0 && `${ih} >= 0 && ${ih} < ${conv.inHeight}`, conv.padWidth > 0 && `${iw} >= 0 && ${iw} < ${conv.inWidth}`);
      taps.push(guarded(check, `acc = fma(X[((image * ${conv.inHeight} + ${ih}) * ${conv.inWidth} + ${iw}) * ${lanes} + lane], W[${(kh * conv.kernelWidth + kw) * lanes} + lane], acc);`));
    }
  }
  return `
  fn main(index : i32) {
    if (index >= uniforms.size) { return; }
    let lane = index % ${lanes};
    let pixel = index / ${lanes};
    let image = pixel / ${conv.outHeight * conv.outWidth};
    let ih0 = ((pixel / ${conv.outWidth}) % ${conv.outHeight}) * ${conv.strideHeight} - ${conv.padHeight};
    let iw0 = (pixel % ${conv.outWidth}) * ${conv.strideWidth} - ${conv.padWidth};
    var acc = ${type}(0.0);
    ${taps.join("\n    ")}
    ${bias ? "acc = acc + Bias[lane];" : ""}
    ${activationWgsl(activation, "acc", type)}
    result[index] = acc;
  }
  `;
}

/** The key tfjs caches a depthwise pipeline by: every constant that changes the source. */
export function depthwiseShaderKey(conv: ConvGeometry, bias: boolean, activation: ConvActivation | undefined): string {
  return `fxcDepthwise_${geometryKey(conv)}_${bias ? "bias" : ""}_${activation ?? ""}`;
}

class DepthwiseProgram implements WebgpuProgram {
  readonly variableNames: string[];
  readonly variableComponents: number[];
  readonly outputComponent: number;
  readonly workgroupSize: [number, number, number] = [DEPTHWISE_WORKGROUP, 1, 1];
  readonly dispatchLayout = { x: [0, 1, 2, 3] };
  readonly dispatch: [number, number, number];
  readonly shaderKey: string;
  readonly size = true;

  constructor(
    readonly outputShape: [number, number, number, number],
    private readonly conv: ConvGeometry,
    private readonly bias: boolean,
    private readonly activation: ConvActivation | undefined,
  ) {
    const width = conv.channels % 4 === 0 ? 4 : 1;
    this.variableNames = bias ? ["X", "W", "Bias"] : ["X", "W"];
    this.variableComponents = bias ? [width, width, width] : [width, width];
    this.outputComponent = width;
    // A flat dispatch: tfjs's runner folds it into 2 or 3 dimensions past 65535 workgroups.
    this.dispatch = [Math.ceil(outputShape.reduce((a, b) => a * b, 1) / width / DEPTHWISE_WORKGROUP), 1, 1];
    this.shaderKey = depthwiseShaderKey(conv, bias, activation);
  }

  getUserCode(): string {
    return depthwiseShader(this.conv, this.bias, this.activation);
  }
}

/**
 * runtime/ops's depthwiseConv2d (same signature): fxc's direct kernel on webgpu for a channel
 * multiplier of 1 (torchvision's depthwise convolutions), any stride, per-axis padding and
 * dilation; tfjs's kernel otherwise.
 */
export function depthwiseConv2d(input: Tensor, weight: Tensor, bias: Tensor | null, attrs: Conv2dAttrs): Tensor4D {
  const conv = ownKernelApplies(input, weight, bias) && weight.shape[3] === 1 && (bias === null || bias.rank === 1) ? convGeometry(input, weight, attrs) : undefined;
  const shape: [number, number, number, number] | undefined = conv && [input.shape[0]!, conv.outHeight, conv.outWidth, conv.channels];
  // Past this many workgroups even a 3-D fold of the dispatch exceeds WebGPU's limits.
  if (conv === undefined || shape === undefined || shape.reduce((a, b) => a * b, 1) / DEPTHWISE_WORKGROUP > MAX_WORKGROUPS_PER_DIMENSION ** 2) return tfjsDepthwiseConv2d(input, weight, bias, attrs);
  const program = new DepthwiseProgram(shape, conv, bias !== null, attrs.activation);
  return runProgram<Tensor4D>(program, bias === null ? [input, weight] : [input, weight, bias]);
}
