import { FxcError } from "../errors.js";
import { storeAs } from "./layout.js";
import { tf, type Tensor } from "./tf.js";

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

/**
 * The generic kernel of every user op: the registered kernel of `op.name`, on `inputs` (torch's
 * order) and `op.attrs`. Its result is in torch's order too; an image-like 4-D one is stored
 * channels-last (`outFormat`), as the shape kernels store theirs, so the layout contract of a
 * built-in op's result holds for a user op's.
 */
export function customOp(inputs: readonly Tensor[], op: { readonly name: string; readonly attrs: CustomOpAttrs; readonly outFormat?: "channelsLast" }): Tensor {
  const kernel = kernels.get(op.name);
  if (kernel === undefined) throw missingKernel(op.name);
  // In a tidy: what the user's kernel makes on the way (softplus before the subtraction, say) is freed with the layout change's input.
  return tf.tidy(() => {
    const result = kernel(inputs, op.attrs);
    if (op.outFormat !== undefined && result.rank !== 4) {
      throw new CustomOpError(`user op '${op.name}' returned a ${result.rank}-D tensor where its shape rule said 4-D; make its tfjs kernel and its shape function agree`);
    }
    return storeAs(result, op);
  });
}
