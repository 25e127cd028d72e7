import type { AbstractValue } from "../graph/value.js";
import type { ArgValue } from "./schema.js";

/**
 * The lowered program's vocabulary, shared by the emitter (which prints it) and the
 * interpreter (which runs it), so that both do exactly the same thing.
 */

/**
 * Physical layout of a 4-D value. Image-like values (torch NCHW) are stored channels-last,
 * as tfjs's convolutions want them, like torch's `channels_last` memory format; a 4-D value
 * whose torch dims already put channels last (Swin's [B, H, W, C]) is stored as torch orders it.
 */
export type MemoryFormat = "channelsLast" | "contiguous";

export type Json = number | string | boolean | null | readonly Json[] | { readonly [key: string]: Json };

export type Operand =
  | { readonly kind: "value"; readonly id: string }
  | { readonly kind: "param"; readonly id: string }
  | { readonly kind: "const"; readonly value: Json }
  | { readonly kind: "list"; readonly items: readonly Operand[] };

/** How a checkpoint tensor is turned into the tensor an op wants, once, at load time. */
export type ParamTransform =
  | "none"
  /** torch OIHW to tfjs HWIO. */
  | "conv2dFilter"
  /** torch [C*m, 1, kh, kw] to tfjs depthwise [kh, kw, C, m]. */
  | "depthwiseFilter"
  /** torch [out, in] to [in, out], so that `matMul(x, w)` needs no transpose per call. */
  | "linearWeight";

export type ParamSource =
  | { readonly key: string }
  /** Batch norm folded into the preceding convolution (eval mode). */
  | {
      readonly fold: "filter" | "bias";
      readonly conv: string;
      readonly convBias: string | null;
      readonly bn: string;
      readonly eps: number;
    };

export interface ParamSpec {
  readonly id: string;
  readonly source: ParamSource;
  readonly transform: ParamTransform;
}

export interface Instruction {
  /** The result's variable name. */
  readonly id: string;
  /** The runtime op called. */
  readonly op: string;
  readonly inputs: readonly Operand[];
  readonly attrs: { readonly [key: string]: Json };
  /** The torchvision nodes this computes, in order; its value is the last one's. */
  readonly nodes: readonly string[];
  readonly value: AbstractValue;
  readonly format?: MemoryFormat;
  /** Why it is there when it is not a node's own op (layout conversion, folding). */
  readonly note?: string;
}

/** What an op's lowering returns: one runtime call, or an existing value (an identity op). */
export type Lowered =
  | {
      readonly op: string;
      readonly inputs: readonly Operand[];
      readonly attrs: { readonly [key: string]: Json };
      /** Layout of a 4-D result; channels-last unless said otherwise. */
      readonly format?: MemoryFormat;
    }
  | { readonly alias: Operand };

export interface LowerContext {
  /** Bound arguments as abstract values, as the op's shape rule saw them. */
  readonly args: Readonly<Record<string, ArgValue>>;
  /** The node's own inferred value. */
  readonly out: AbstractValue;
  /** A tensor argument; a 4-D one is converted to `format` first unless `format` is "any". */
  tensor(name: string, format?: MemoryFormat | "any"): Operand;
  optionalTensor(name: string, format?: MemoryFormat | "any"): Operand | null;
  /** The tensors of a list argument (e.g. `torch.cat`'s). */
  tensors(name: string, format?: MemoryFormat | "any"): Operand[];
  /** Layout of a 4-D tensor argument; undefined for other ranks. */
  formatOf(name: string): MemoryFormat | undefined;
  /** Whether an argument is a model parameter or buffer. */
  isParam(name: string): boolean;
  /** A parameter argument, loaded with a transform. */
  param(name: string, transform?: ParamTransform): Operand;
  /** Any argument: traced values by reference, everything else as a constant. */
  operand(name: string): Operand;
}

export const value = (id: string): Operand => ({ kind: "value", id });
export const constant = (v: Json): Operand => ({ kind: "const", value: v });
