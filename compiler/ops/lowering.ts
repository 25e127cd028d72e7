import type { AbstractValue } from "../graph/value.js";
import type { ArgValue } from "./schema.js";
import type { KernelName } from "../../runtime/kernels.js";

import type { Json, MemoryFormat, Operand, ParamTransform } from "../graph/program.js";

export type { Json, MemoryFormat, Operand, ParamTransform };

/** What an op's lowering returns: one runtime call, or an existing value (an identity op). */
export type Lowered =
  | {
      readonly op: KernelName;
      readonly inputs: readonly Operand[];
      readonly attrs: { readonly [key: string]: Json };
      /** Layout of a 4-D result; channels-last unless said otherwise. */
      readonly format?: MemoryFormat;
    }
  | { readonly alias: Operand };

/** A lowering to a runtime call (not an alias). */
export type LoweredCall = Extract<Lowered, { readonly op: KernelName }>;

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
}

