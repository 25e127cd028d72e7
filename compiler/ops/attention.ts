import { defineOp } from "./registry.js";
import { call } from "./lowering.js";
import { asString, asTensor, type ArgValue } from "./schema.js";
import { ShapeError, tensor, type Dim } from "../graph/value.js";
import { parseEinsum } from "@fxc/runtime/internal/ops/attention";

/** Ops of attention layers (MaxViT): einsum. Picking rows by an index tensor is `getitem`'s. */

defineOp({
  schema: "einsum(equation, *operands)",
  infer(a) {
    const equation = asString(a.equation, "einsum equation");
    const operands = (a.operands as ArgValue[]).map((t, i) => asTensor(t, `einsum operand ${i}`));
    let plan;
    try {
      plan = parseEinsum(equation, operands.length);
    } catch (e) {
      throw new ShapeError((e as Error).message);
    }
    if (operands.length > 2) throw new ShapeError(`einsum '${equation}': more than two operands are not supported`);
    const sizes = new Map<string, Dim>();
    operands.forEach((t, i) => {
      const labels = plan.inputs[i]!;
      if (labels.length !== t.shape.length) {
        throw new ShapeError(`einsum '${equation}': operand ${i} has shape [${t.shape.join(", ")}], but the equation gives it ${labels.length} labels`);
      }
      labels.forEach((l, d) => {
        const size = t.shape[d]!;
        const known = sizes.get(l);
        if (known !== undefined && known !== size) throw new ShapeError(`einsum '${equation}': label ${l} has sizes ${String(known)} and ${String(size)}`);
        sizes.set(l, size);
      });
    });
    return tensor(plan.output.map((l) => sizes.get(l)!));
  },
  // Labels name torch's dims, so operands come in torch's order, and so does the result.
  lower: (ctx) => call("einsum", [{ kind: "list", items: ctx.tensors("operands", "contiguous") }], { equation: asString(ctx.args.equation, "equation") }, "contiguous"),
});
