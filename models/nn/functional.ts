import { CustomOpError, registerOp, type CustomKernel, type CustomOpAttrs } from "@fxc/runtime/internal/ops/support/custom";
import { dispatcher, type UserOpSpec } from "./dispatch.js";
import type { Buffer, Parameter } from "./parameter.js";
import { containsTraced, type IntLike, type Tensor } from "./tensor.js";

/**
 * The functions model code calls, named and ordered as torch's (`torch.flatten`,
 * `F.relu`, `operator.add`...). Each records a `call_function` node through the installed
 * dispatcher (the tracer, while tracing); on plain Python values the Python operators just
 * compute the result.
 */

type TensorArg = Tensor | Parameter | Buffer;
type Pair = number | readonly [number, number];

function call(target: string, args: readonly unknown[], kwargs: Readonly<Record<string, unknown>> = {}): Tensor {
  return dispatcher(`call ${target}()`).callFunction(target, args, kwargs);
}

/**
 * torch.fx's `wrap` / torchvision's `autowrap_functions`: a function of the user's that the
 * graph keeps as one node named after it (`leaf_function`), where torch.fx would list every op
 * inside. Its body is still traced, to compile it, so it is written with fxc's ops like any
 * forward; a body that cannot be traced is an error only if a returned node needs it. Called on
 * plain values, it just runs.
 */
export function wrap<A extends unknown[], R>(fn: (...args: A) => R, name: string = fn.name): (...args: A) => R {
  if (!/^[A-Za-z_][\w]*$/.test(name)) throw new Error(`wrap needs a function name of letters, digits and '_' for its node, got ${JSON.stringify(name)}; pass one: wrap(fn, "my_function")`);
  return (...args: A): R => {
    if (!containsTraced(args)) return fn(...args);
    return dispatcher(`call ${name}()`).callWrapped(name, fn as (...args: never[]) => unknown, args) as R;
  };
}

/** A user op as `F.defineOp` takes it: its name (its nodes' name), its shape rule and its tfjs kernel. */
export interface OpDefinition<A extends CustomOpAttrs = CustomOpAttrs> {
  readonly name: string;
  /** The output shape from the input shapes (torch's order; `null` is the free batch) and the call's attributes. */
  shape(inputShapes: readonly (readonly (number | null)[])[], attrs: A): readonly (number | null)[];
  /** The kernel: the inputs as tfjs tensors in torch's order, the attributes; returns the output. */
  readonly tfjs: CustomKernel<A>;
}

/** A user op's call in model code: one tensor or a list of them, and its attributes (plain JSON values). */
export type UserOp<A extends CustomOpAttrs = CustomOpAttrs> = (inputs: Tensor | readonly Tensor[], attrs?: A) => Tensor;

/**
 * An op with its own runtime kernel, where `wrap` traces a function into fxc's ops: traced as one
 * node named after it (torch.fx's leaf function), its shape from `shape`, compiled to the generic
 * `customOp` kernel, which runs `tfjs` (registered here with `registerOp`, so this process runs
 * it; a compiled module's user registers it with `registerOp` from @fxc/runtime before load).
 */
export function defineOp<A extends CustomOpAttrs = CustomOpAttrs>(definition: OpDefinition<A>): UserOp<A> {
  const { name } = definition;
  if (!/^[A-Za-z_][\w]*$/.test(name)) throw new CustomOpError(`defineOp needs a name of letters, digits and '_' for its nodes, got ${JSON.stringify(name)}; pass one: defineOp({ name: "my_op", ... })`);
  if (typeof definition.shape !== "function") throw new CustomOpError(`defineOp '${name}' needs a shape rule: shape: (inputShapes, attrs) => outputShape`);
  registerOp(name, definition.tfjs);
  const spec: UserOpSpec = { name, shape: definition.shape as UserOpSpec["shape"] };
  return (inputs, attrs) => dispatcher(`call ${name}()`).callUserOp(spec, Array.isArray(inputs) ? (inputs as readonly Tensor[]) : [inputs as Tensor], attrs ?? {});
}

// ---- torch.nn.functional ----

export const conv2d = (input: Tensor, weight: TensorArg, bias: TensorArg | null = null, stride: Pair = 1, padding: Pair = 0, dilation: Pair = 1, groups = 1): Tensor =>
  call("conv2d", [input, weight, bias, stride, padding, dilation, groups]);

/** torch.nn.functional.conv_transpose2d (no output_padding, groups or dilation: what torchvision's detection heads use). */
export const conv_transpose2d = (input: Tensor, weight: TensorArg, bias: TensorArg | null = null, stride: Pair = 1, padding: Pair = 0): Tensor =>
  call("conv_transpose2d", [input, weight, bias, stride, padding]);

export const batch_norm = (
  input: Tensor,
  runningMean: TensorArg,
  runningVar: TensorArg,
  weight: TensorArg | null,
  bias: TensorArg | null,
  training: boolean,
  momentum: number,
  eps: number,
): Tensor => call("batch_norm", [input, runningMean, runningVar, weight, bias, training, momentum, eps]);

export const relu = (input: Tensor, inplace = false): Tensor => call("relu", [input, inplace]);
export const relu6 = (input: Tensor, inplace = false): Tensor => call("relu6", [input, inplace]);
export const sigmoid = (input: Tensor): Tensor => call("sigmoid", [input]);
export const tanh = (input: Tensor): Tensor => call("tanh", [input]);
export const silu = (input: Tensor, inplace = false): Tensor => call("silu", [input, inplace]);
export const hardswish = (input: Tensor, inplace = false): Tensor => call("hardswish", [input, inplace]);
export const hardsigmoid = (input: Tensor, inplace = false): Tensor => call("hardsigmoid", [input, inplace]);
export const gelu = (input: Tensor, approximate: "none" | "tanh" = "none"): Tensor => call("gelu", [input, approximate]);
export const dropout = (input: Tensor, p: number, training: boolean, inplace = false): Tensor => call("dropout", [input, p, training, inplace]);

export const max_pool2d = (input: Tensor, kernelSize: Pair, stride: Pair | null = null, padding: Pair = 0, dilation: Pair = 1, ceilMode = false): Tensor =>
  call("max_pool2d", [input, kernelSize, stride, padding, dilation, ceilMode]);
export const avg_pool2d = (input: Tensor, kernelSize: Pair, stride: Pair | null = null, padding: Pair = 0, ceilMode = false, countIncludePad = true): Tensor =>
  call("avg_pool2d", [input, kernelSize, stride, padding, ceilMode, countIncludePad]);
export const adaptive_avg_pool2d = (input: Tensor, outputSize: number | readonly [number | null, number | null]): Tensor =>
  call("adaptive_avg_pool2d", [input, outputSize]);
export const adaptive_max_pool2d = (input: Tensor, outputSize: number | readonly [number | null, number | null]): Tensor =>
  call("adaptive_max_pool2d", [input, outputSize]);

export const linear = (input: Tensor, weight: TensorArg, bias: TensorArg | null = null): Tensor => call("linear", [input, weight, bias]);

// ---- torch ----

export const flatten = (input: Tensor, startDim = 0, endDim = -1): Tensor => call("flatten", [input, startDim, endDim]);

// ---- Python operators on traced values (operator.add, operator.getitem, ...) ----

type Operand = Tensor | TensorArg | number;

export const add = (a: Operand, b: Operand): Tensor => call("add", [a, b]);
export const sub = (a: Operand, b: Operand): Tensor => call("sub", [a, b]);
export const mul = (a: Operand, b: Operand): Tensor => call("mul", [a, b]);
export const truediv = (a: Operand, b: Operand): Tensor => call("truediv", [a, b]);

/** `a // b`, traced when `a` or `b` is; Python's floor division on plain ints. */
export const floordiv = (a: IntLike, b: IntLike): IntLike => (typeof a === "number" && typeof b === "number" ? Math.floor(a / b) : call("floordiv", [a, b]));
/** `a == b`, traced when `a` or `b` is. */
export const eq = (a: IntLike, b: IntLike): Tensor | boolean => (typeof a === "number" && typeof b === "number" ? a === b : call("eq", [a, b]));
/** A slice in an index, as Python's `start:stop:step`. */
export const slice = (start: number | null = null, stop: number | null = null, step: number | null = null): { slice: [number | null, number | null, number | null] } => ({
  slice: [start, stop, step],
});
/** The ellipsis of an index (`x[..., 0]`), as model code writes it. */
export const ELLIPSIS = "...";
type Index = number | null | string | { slice: readonly [number | null, number | null, number | null] } | Tensor;

/**
 * `obj[index]`: a shape, a tuple, or a tensor (ints, `slice(...)`, null for None, ELLIPSIS),
 * or a tensor's rows picked by an integer tensor (`table[buffer]`), or a traced dict's entry by key
 * (a leaf's OrderedDict, as FeaturePyramidNetwork returns).
 */
export const getitem = (obj: Tensor | Parameter | Readonly<Record<string, Tensor>>, index: Index | readonly Index[] | Buffer): Tensor => call("getitem", [obj, index]);
/** `x.expand(*sizes)` on a tensor or a parameter read directly (`self.class_token.expand(n, -1, -1)`). */
export const expand = (input: Tensor | TensorArg, ...sizes: IntLike[]): Tensor => dispatcher("call expand()").callMethod("expand", [input, ...sizes], {});
export const swapaxes = (input: Tensor, axis0: number, axis1: number): Tensor => call("swapaxes", [input, axis0, axis1]);
/** `torch._assert(condition, message)`: checked at compile time, since shapes are static. */
export function _assert(condition: Tensor | boolean, message: string): void {
  if (containsTraced(condition)) call("_assert", [condition, message]);
  else if (!condition) throw new Error(message);
}

// ---- joining, moving and reducing dims ----

export const permute = (input: Tensor, dims: readonly number[]): Tensor => call("permute", [input, ...dims]);
export const cat = (tensors: readonly Tensor[], dim = 0): Tensor => call("cat", [tensors, dim]);
export const transpose = (input: Tensor, dim0: number, dim1: number): Tensor => call("transpose", [input, dim0, dim1]);
export const matmul = (input: Tensor, other: Tensor | TensorArg): Tensor => call("matmul", [input, other]);
export const mean = (input: Tensor, dim: number | readonly number[] | null = null, keepdim = false): Tensor => call("mean", [input, dim, keepdim]);
export const softmax = (input: Tensor, dim: number): Tensor => call("softmax", [input, dim]);
export const layer_norm = (input: Tensor, normalizedShape: readonly number[], weight: TensorArg | null = null, bias: TensorArg | null = null, eps = 1e-5): Tensor =>
  call("layer_norm", [input, normalizedShape, weight, bias, eps]);

/** torchvision.ops.stochastic_depth: the identity in eval mode. */
export const stochastic_depth = (input: Tensor, p: number, mode: "batch" | "row", training = true): Tensor => call("stochastic_depth", [input, p, mode, training]);

// ---- MaxViT ----

/** `torch.einsum(equation, *operands)`: labels are letters, spaces are ignored, no ellipsis. */
export const einsum = (equation: string, ...operands: Tensor[]): Tensor => call("einsum", [equation, ...operands]);

/**
 * fxc's annotation, not a torch function, and it records no node: the 4-D value `x` is not
 * image-like [N, C, H, W] (MaxViT's windows [B, G, P*P, C]), so it is stored and returned in
 * torch's order rather than following the caller's layout.
 */
export function torchOrder(x: Tensor): Tensor {
  dispatcher("mark a tensor's order").markTorchOrder(x);
  return x;
}

// ---- GoogLeNet and Inception v3 (transform_input) ----

/** `torch.unsqueeze(input, dim)`, the function form of `x.unsqueeze(dim)`. */
export const unsqueeze = (input: Tensor, dim: number): Tensor => call("unsqueeze", [input, dim]);

// ---- ConvNeXt ----

/**
 * A parameter read in forward code before other ops run (`self.layer_scale * self.block(x)`):
 * torch.fx records its `get_attr` node at the read, so it comes before the block's nodes.
 * Passing the parameter itself to an op records the node only when the op runs.
 */
export const get_attr = (t: Parameter | Buffer): Tensor => dispatcher("read a parameter").readAttribute(t);

// ---- Swin: the functions torchvision's swin_transformer.py wraps with torch.fx.wrap (one node each) ----

/** `_patch_merging_pad(x)`: [..., H, W, C] padded to even H and W, 2×2 neighbours concatenated: [..., H/2, W/2, 4C]. */
export const _patch_merging_pad = (x: Tensor): Tensor => call("_patch_merging_pad", [x]);

/** `_get_relative_position_bias(table, index, window_size)`: [1, heads, Wh·Ww, Wh·Ww]. */
export const _get_relative_position_bias = (table: TensorArg, index: TensorArg, windowSize: readonly number[]): Tensor =>
  call("_get_relative_position_bias", [table, index, windowSize]);

/** `shifted_window_attention(...)`: Swin's (shifted) window attention; v2's cosine attention when `logit_scale` is given. */
export const shifted_window_attention = (
  input: Tensor,
  qkvWeight: TensorArg,
  projWeight: TensorArg,
  relativePositionBias: Tensor,
  windowSize: readonly number[],
  numHeads: number,
  options: {
    shift_size: readonly number[];
    attention_dropout?: number;
    dropout?: number;
    qkv_bias?: TensorArg | null;
    proj_bias?: TensorArg | null;
    logit_scale?: TensorArg | null;
  },
): Tensor => call("shifted_window_attention", [input, qkvWeight, projWeight, relativePositionBias, windowSize, numHeads], options);

// ---- resampling (torchvision's FeaturePyramidNetwork) ----

/**
 * `F.interpolate(input, size=None, scale_factor=None, mode='nearest', align_corners=None,
 * recompute_scale_factor=None, antialias=False)` on [N, C, H, W]: modes 'nearest' and
 * 'bilinear'. `size` may be traced (`x.shape.slice(-2)` as `F.getitem(x.shape, F.slice(-2))`).
 */
export const interpolate = (
  input: Tensor,
  options: {
    size?: IntLike | readonly IntLike[] | null;
    scale_factor?: number | readonly number[] | null;
    mode?: "nearest" | "bilinear";
    align_corners?: boolean | null;
    recompute_scale_factor?: boolean | null;
    antialias?: boolean;
  } = {},
): Tensor => call("interpolate", [input], options);
