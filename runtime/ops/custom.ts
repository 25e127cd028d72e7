import { type CustomOpAttrs, CustomOpError, registeredKernel } from "./support/custom.js";
import { storeAs } from "./support/layout.js";
import { tf, type Tensor } from "./tf.js";

/**
 * The generic kernel of every user op: the registered kernel of `op.name`, on `inputs` (torch's
 * order) and `op.attrs`. Its result is in torch's order too; an image-like 4-D one is stored
 * channels-last (`outFormat`), as the shape kernels store theirs, so the layout contract of a
 * built-in op's result holds for a user op's.
 */
export function customOp(inputs: readonly Tensor[], op: { readonly name: string; readonly attrs: CustomOpAttrs; readonly outFormat?: "channelsLast" }): Tensor {
  const kernel = registeredKernel(op.name);
  // In a tidy: what the user's kernel makes on the way (softplus before the subtraction, say) is freed with the layout change's input.
  return tf.tidy(() => {
    const result = kernel(inputs, op.attrs);
    if (op.outFormat !== undefined && result.rank !== 4) {
      throw new CustomOpError(`user op '${op.name}' returned a ${result.rank}-D tensor where its shape rule said 4-D; make its tfjs kernel and its shape function agree`);
    }
    return storeAs(result, op);
  });
}
