import type { AbstractValue } from "../graph/value.js";
import type { ArgValue } from "./schema.js";
import type { KernelAttrs, KernelName } from "@fxc/runtime/internal/kernels";

import type { Json, KernelCall, MemoryFormat, Operand, ParamTransform } from "../graph/program.js";

export type { Json, MemoryFormat, Operand, ParamTransform };

/** A lowering to a runtime call (not an alias): a union over the kernels, discriminated by `op`. */
export type LoweredCall = {
  [K in KernelName]: KernelCall<K> & {
    readonly inputs: readonly Operand[];
    /** Layout of a 4-D result; channels-last unless said otherwise. */
    readonly format?: MemoryFormat;
  };
}[KernelName];

/** What an op's lowering returns: one runtime call, or an existing value (an identity op). */
export type Lowered = LoweredCall | { readonly alias: Operand };

/**
 * The one way lowering writes a kernel call: `call("conv2d", inputs, { stride, padding })`
 * checks the attributes against the kernel's declared ones.
 */
export function call<K extends KernelName>(op: K, inputs: readonly Operand[], attrs: KernelAttrs<K>, format?: MemoryFormat): LoweredCall {
  // tsc cannot pair a generic K's op with its attrs inside the mapped union; the signature did.
  return { op, inputs, attrs, ...(format === undefined ? {} : { format }) } as LoweredCall;
}

export interface LowerContext {
  /** Bound arguments as abstract values, as the op's shape rule saw them. */
  readonly args: Readonly<Record<string, ArgValue>>;
  /** The node's own inferred value. */
  readonly out: AbstractValue;
  /** A tensor argument; a 4-D one is converted to `format` first unless `format` is "any". */
  tensor(name: string, format?: MemoryFormat | "any"): Operand;
  /** A tensor argument that may be None (a bias, say): None is the constant null. */
  optionalTensor(name: string, format?: MemoryFormat | "any"): Operand;
  /** The tensors of a list argument (e.g. `torch.cat`'s). */
  tensors(name: string, format?: MemoryFormat | "any"): Operand[];
  /** Layout of a 4-D tensor argument; undefined for other ranks. */
  formatOf(name: string): MemoryFormat | undefined;
  /** Whether an argument is a model parameter or buffer. */
  isParam(name: string): boolean;
  /** A parameter argument, loaded with a transform; with `parts`, a list of that many slices of its last axis. */
  param(name: string, transform?: ParamTransform, parts?: number): Operand;
  /** Any argument: traced values by reference, everything else as a constant. */
  operand(name: string): Operand;
  /**
   * The 4-D image-like tensor whose height and width an argument is (`t.shape[-2:]`), in `format`,
   * for a kernel that reads them when it runs rather than as constants of one input size;
   * undefined when the argument is anything else.
   */
  spatialSizeOf(name: string, format: MemoryFormat): Operand | undefined;
}

