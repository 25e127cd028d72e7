import { activate as activated, type ConvActivation } from "./support/activation.js";
import { transposedOutput } from "./support/conv.js";
import { tf, type Tensor, type Tensor1D, type Tensor4D } from "./tf.js";
import { InternalError } from "../errors.js";

// Kernels take plain Tensors (weights arrive untyped by rank) and return the rank they make.

export interface Conv2dAttrs {
  readonly stride: readonly [number, number] | readonly number[];
  readonly padding: readonly [number, number] | readonly number[];
  /** Omitted when 1, as in most models. */
  readonly dilation?: readonly [number, number] | readonly number[];
  readonly groups?: number;
  readonly activation?: ConvActivation;
}

const dilations = (attrs: Conv2dAttrs): [number, number] => [attrs.dilation?.[0] ?? 1, attrs.dilation?.[1] ?? 1];

const activate = (y: Tensor, activation: ConvActivation | undefined): Tensor4D => activated(y, activation) as Tensor4D;

type Padding = [[number, number], [number, number], [number, number], [number, number]];

/** torch's symmetric padding as tfjs's explicit NHWC padding. */
function explicitPadding(padding: readonly number[]): Padding {
  const [ph, pw] = padding as [number, number];
  return [
    [0, 0],
    [ph, ph],
    [pw, pw],
    [0, 0],
  ];
}

/**
 * torch.nn.functional.conv2d on a channels-last input with an HWIO filter (prepared at load).
 * A grouped convolution (ResNeXt, RegNet) gets one filter per group, and one bias per group
 * or one for all, and runs one convolution per group: tfjs has no groups.
 */
export function conv2d(input: Tensor, weight: Tensor | readonly Tensor[], bias: Tensor | readonly Tensor[] | null, attrs: Conv2dAttrs): Tensor4D {
  const x = input as Tensor4D;
  const common = {
    strides: [attrs.stride[0]!, attrs.stride[1]!] as [number, number],
    pad: explicitPadding(attrs.padding),
    dilations: dilations(attrs),
    activation: attrs.activation ?? ("linear" as const),
  };
  if (!Array.isArray(weight)) return tf.fused.conv2d({ x, filter: weight as Tensor4D, bias: (bias as Tensor1D | null) ?? undefined, ...common });
  const filters = weight as readonly Tensor4D[];
  return tf.tidy(() => {
    const xs = tf.split(x, filters.length, 3) as Tensor4D[];
    if (bias === null || Array.isArray(bias)) {
      const biases = bias as readonly Tensor1D[] | null;
      return tf.concat(xs.map((xg, g) => tf.fused.conv2d({ x: xg, filter: filters[g]!, bias: biases?.[g], ...common })), 3) as Tensor4D;
    }
    const y = tf.add(tf.concat(xs.map((xg, g) => tf.conv2d(xg, filters[g]!, common.strides, common.pad, "NHWC", common.dilations)), 3), bias as Tensor);
    return activate(y, attrs.activation);
  });
}

/**
 * A ResNet block's end as one kernel: act(conv2d(input) + bias + addend), the residual added
 * before the activation (the compiler fuses conv2d → add → relu into it, compiler/passes/fuse.ts).
 * The addend has the convolution's output shape, channels-last. tfjs's fused conv2d applies its
 * activation before any add, so here the add and the activation are their own tfjs ops; an
 * engine with its own convolution adds the residual in the convolution's epilogue instead.
 */
export function conv2dAdd(input: Tensor, weight: Tensor | readonly Tensor[], bias: Tensor | readonly Tensor[] | null, addend: Tensor, attrs: Conv2dAttrs): Tensor4D {
  const { activation, ...linear } = attrs;
  return tf.tidy(() => activate(tf.add(conv2d(input, weight, bias, linear), addend), activation));
}

/** A convolution with one input channel per group; the filter is [kh, kw, C, multiplier]. */
export function depthwiseConv2d(input: Tensor, weight: Tensor, bias: Tensor | null, attrs: Conv2dAttrs): Tensor4D {
  const [x, filter] = [input as Tensor4D, weight as Tensor4D];
  const [ph, pw] = [attrs.padding[0]!, attrs.padding[1]!];
  const [kh, kw] = [filter.shape[0], filter.shape[1]];
  const conv = (padded: Tensor4D, pad: number | "valid"): Tensor4D =>
    tf.fused.depthwiseConv2d({
      x: padded,
      filter,
      bias: (bias as Tensor1D | null) ?? undefined,
      strides: [attrs.stride[0]!, attrs.stride[1]!],
      pad,
      dilations: dilations(attrs),
      activation: attrs.activation ?? "linear",
    });
  // tfjs's depthwise kernel takes one symmetric padding, and sizes its output from the filter's
  // height and the first stride alone when given a number: a square filter with equal strides and
  // paddings takes it; anything else is padded first and run "valid", which sizes each axis apart.
  if (ph === pw && kh === kw && attrs.stride[0] === attrs.stride[1]) return conv(x, ph);
  if (ph === 0 && pw === 0) return conv(x, "valid");
  return tf.tidy(() => conv(tf.pad(x, explicitPadding(attrs.padding)), "valid"));
}

export interface Conv2dTransposeAttrs {
  readonly stride: readonly [number, number] | readonly number[];
  readonly padding: readonly [number, number] | readonly number[];
}

/**
 * torch.nn.functional.conv_transpose2d on a channels-last input. The filter is torch's
 * [in, out, kh, kw] moved to [kh, kw, out, in] at load (the same permutation as conv2d's HWIO),
 * which is the filter tfjs's conv2dTranspose takes.
 */
export function conv2dTranspose(input: Tensor, weight: Tensor, bias: Tensor | null, attrs: Conv2dTransposeAttrs): Tensor4D {
  const x = input as Tensor4D;
  const [n, h, w] = x.shape;
  const [kh, kw, out] = weight.shape as [number, number, number, number];
  const [sh, sw] = [attrs.stride[0]!, attrs.stride[1]!];
  const [ph, pw] = [attrs.padding[0]!, attrs.padding[1]!];
  const shape: [number, number, number, number] = [n, transposedOutput(h, kh, sh, ph), transposedOutput(w, kw, sw, pw), out];
  return tf.tidy(() => {
    if (kh === sh && kw === sw && ph === 0 && pw === 0) {
      // Kernel equal to stride, no padding (Mask R-CNN's conv5_mask): the input's pixels write disjoint
      // kh × kw tiles, so the whole op is one matrix product, [n·h·w, in] × [in, kh·kw·out], its rows
      // laid out as tiles. Same sums in the same order as tfjs's kernel (equal on wasm), and faster:
      // 100 regions of 14 × 14 × 256 on wasm took 5.1 s of CPU through conv2dTranspose, 0.9 s so.
      const inChannels = weight.shape[3]!;
      const filter = tf.reshape(tf.transpose(weight, [3, 0, 1, 2]), [inChannels, kh * kw * out]);
      const rows = tf.matMul(tf.reshape(x, [n * h * w, inChannels]), filter);
      const tiled = tf.reshape(tf.transpose(tf.reshape(rows, [n, h, w, kh, kw, out]), [0, 1, 3, 2, 4, 5]), shape) as Tensor4D;
      return bias === null ? tiled : (tf.add(tiled, bias) as Tensor4D);
    }
    // tfjs takes one padding for both axes; a torch padding of 0 is its "valid".
    const pad = ph === 0 && pw === 0 ? "valid" : ph;
    if (ph !== pw) throw new InternalError(`conv_transpose2d with padding ${ph}x${pw} (tfjs takes one padding for both axes)`);
    const y = tf.conv2dTranspose(x, weight as Tensor4D, shape, [sh, sw], pad);
    return bias === null ? y : tf.add(y, bias);
  });
}
