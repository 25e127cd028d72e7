import { defineOp } from "./registry.js";
import { call } from "./lowering.js";
import { asInt, asInts, asTensor } from "./schema.js";
import { ShapeError, tensor, type Dim } from "../graph/value.js";

/** torch's output size of a convolution or pooling window along one axis. */
export function windowOutput(size: Dim, kernel: number, stride: number, padding: number, dilation: number, ceilMode = false): Dim {
  if (typeof size !== "number") return size;
  const span = size + 2 * padding - dilation * (kernel - 1) - 1;
  let out = (ceilMode ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1;
  // torch: with ceil_mode the last window must start inside the input or its left padding.
  if (ceilMode && (out - 1) * stride >= size + padding) out -= 1;
  return out;
}

defineOp({
  schema: "conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1)",
  infer(a) {
    const x = asTensor(a.input, "conv2d input");
    const w = asTensor(a.weight, "conv2d weight");
    if (x.shape.length !== 4) throw new ShapeError(`conv2d expects a 4-D input [N, C, H, W], got rank ${x.shape.length}`);
    const [stride, padding, dilation] = [asInts(a.stride, 2, "stride"), asInts(a.padding, 2, "padding"), asInts(a.dilation, 2, "dilation")];
    const groups = asInt(a.groups, "groups");
    const [n, c, h, wd] = x.shape as [Dim, Dim, Dim, Dim];
    const [o, cg, kh, kw] = w.shape as [number, number, number, number];
    if (c !== cg * groups) throw new ShapeError(`conv2d expects ${cg * groups} input channels, got ${String(c)}`);
    const oh = windowOutput(h, kh, stride[0]!, padding[0]!, dilation[0]!);
    const ow = windowOutput(wd, kw, stride[1]!, padding[1]!, dilation[1]!);
    if ((typeof oh === "number" && oh < 1) || (typeof ow === "number" && ow < 1)) {
      throw new ShapeError(`input ${String(h)}x${String(wd)} is smaller than the ${kh}x${kw} convolution window`);
    }
    return tensor([n, o, oh, ow]);
  },
  lower(ctx) {
    const x = asTensor(ctx.args.input, "input");
    const w = asTensor(ctx.args.weight, "weight");
    const groups = asInt(ctx.args.groups, "groups");
    const dilation = asInts(ctx.args.dilation, 2, "dilation");
    const attrs = {
      stride: asInts(ctx.args.stride, 2, "stride"),
      padding: asInts(ctx.args.padding, 2, "padding"),
      ...(dilation.some((d) => d !== 1) ? { dilation } : {}),
    };
    // Depthwise convolution (one channel in and out per group) has its own, much faster kernel.
    const depthwise = groups > 1 && groups === x.shape[1] && w.shape[0] === groups;
    if (depthwise || groups === 1) {
      return call(depthwise ? "depthwiseConv2d" : "conv2d", [ctx.tensor("input", "channelsLast"), ctx.param("weight", depthwise ? "depthwiseFilter" : "conv2dFilter"), ctx.optionalTensor("bias")], attrs);
    }
    // Other grouped convolutions (ResNeXt, RegNet) run one convolution per group, each with
    // its own filter and bias tensors made at load time: the backend then prepares each
    // group's convolution once, instead of slicing and repacking filters on every call.
    return call("conv2d", [
        ctx.tensor("input", "channelsLast"),
        ctx.param("weight", "conv2dFilter", groups),
        ctx.isParam("bias") ? ctx.param("bias", "none", groups) : ctx.optionalTensor("bias"),
      ], { ...attrs, groups });
  },
});

/** torch's conv_transpose2d (Mask R-CNN's conv5_mask): out = (in - 1) * stride - 2 * padding + kernel. */
defineOp({
  schema: "conv_transpose2d(input, weight, bias=None, stride=1, padding=0)",
  infer(a) {
    const x = asTensor(a.input, "conv_transpose2d input");
    const w = asTensor(a.weight, "conv_transpose2d weight");
    if (x.shape.length !== 4) throw new ShapeError(`conv_transpose2d expects a 4-D input [N, C, H, W], got rank ${x.shape.length}`);
    const [stride, padding] = [asInts(a.stride, 2, "stride"), asInts(a.padding, 2, "padding")];
    const [n, c, h, wd] = x.shape as [Dim, Dim, Dim, Dim];
    const [inChannels, o, kh, kw] = w.shape as [number, number, number, number];
    if (c !== inChannels) throw new ShapeError(`conv_transpose2d expects ${inChannels} input channels, got ${String(c)}`);
    if (padding[0] !== padding[1]) throw new ShapeError(`conv_transpose2d with padding ${padding[0]}x${padding[1]} is not supported; use the same padding on both axes`);
    const out = (size: Dim, k: number, s: number, p: number): Dim => (typeof size === "number" ? (size - 1) * s - 2 * p + k : size);
    return tensor([n, o, out(h, kh, stride[0]!, padding[0]!), out(wd, kw, stride[1]!, padding[1]!)]);
  },
  lower(ctx) {
    const attrs = { stride: asInts(ctx.args.stride, 2, "stride"), padding: asInts(ctx.args.padding, 2, "padding") };
    // torch's [in, out, kh, kw] takes conv2d's HWIO permutation to become tfjs's [kh, kw, out, in].
    return call("conv2dTranspose", [ctx.tensor("input", "channelsLast"), ctx.param("weight", "conv2dFilter"), ctx.optionalTensor("bias")], attrs);
  },
});
