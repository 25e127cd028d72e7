import { FxcError } from "../../errors.js";
import type { Tensor } from "../tf.js";

/**
 * User ops with their own kernel (`F.defineOp` in a model, `registerOp` here): a compiled program
 * calls every one through the single generic kernel `customOp`, which looks the user's kernel up
 * by name at run time, so the kernel contract (runtime/kernels.ts) stays one typed table.
 */

/** An attribute of a user op: plain JSON, as a compiled module writes it. */
export type CustomAttrValue = number | string | boolean | null | readonly CustomAttrValue[];
export type CustomOpAttrs = { readonly [key: string]: CustomAttrValue };
/** A user op's tfjs kernel: its tensor inputs (in the layout the model sees: torch's order) and its attributes. */
export type CustomKernel<A extends CustomOpAttrs = CustomOpAttrs> = (inputs: readonly Tensor[], attrs: A) => Tensor;

/** A user op fxc cannot run: no kernel registered under its name, or a bad name. */
export class CustomOpError extends FxcError {
  override readonly name = "CustomOpError";
}
const OP_NAME = /^[A-Za-z_]\w*$/;
const kernels = new Map<string, CustomKernel>();

/** Registers (or replaces) the tfjs kernel of the user op `name`, before loading a module that calls it. */
export function registerOp<A extends CustomOpAttrs>(name: string, kernel: CustomKernel<A>): void {
  if (!OP_NAME.test(name)) throw new CustomOpError(`op name ${JSON.stringify(name)} is not letters, digits and '_'; register it under the name its defineOp gave`);
  if (typeof kernel !== "function") throw new CustomOpError(`registerOp("${name}", kernel) needs a function (inputs, attrs) => tf.Tensor`);
  kernels.set(name, kernel as CustomKernel);
}

/** Refuses, with one line per the first missing one, a module whose user ops have no registered kernel. */
export function checkCustomOps(names: readonly string[]): void {
  for (const name of names) {
    if (!kernels.has(name)) throw missingKernel(name);
  }
}

function missingKernel(name: string): CustomOpError {
  return new CustomOpError(`the module calls user op '${name}', which has no kernel here; call registerOp("${name}", (inputs, attrs) => tensor) from "@fxc/runtime" before load`);
}

/** The kernel registered for a user op, or a CustomOpError saying how to register it. */
export function registeredKernel(name: string): CustomKernel {
  const kernel = kernels.get(name);
  if (kernel === undefined) throw missingKernel(name);
  return kernel;
}
