import { parseEinsum } from "@fxc/runtime/internal/ops/support/linear";
import { ShapeError, tensor, type Dim } from "../graph/value.js";
import { call } from "./lowering.js";
import { defineOp } from "./registry.js";
import { asString, asTensor, type ArgValue } from "./schema.js";

defineOp({
  schema: "linear(input, weight, bias=None)",
  infer(a) {
    const x = asTensor(a.input, "linear input");
    const w = asTensor(a.weight, "linear weight");
    const inFeatures = x.shape[x.shape.length - 1];
    if (inFeatures !== w.shape[1]) {
      throw new ShapeError(`linear expects ${String(w.shape[1])} input features, got ${String(inFeatures)}`);
    }
    return tensor([...x.shape.slice(0, -1), w.shape[0]!]);
  },
  // Linear acts on torch's last dim, so a 4-D input must be in torch order.
  lower: (ctx) => call("linear", [ctx.tensor("input", "contiguous"), ctx.param("weight", "linearWeight"), ctx.optionalTensor("bias")], {}, "contiguous"),
});

defineOp({
  schema: "matmul(input, other)",
  infer(a) {
    const x = asTensor(a.input, "matmul input");
    const y = asTensor(a.other, "matmul other");
    if (x.shape.length < 2 || y.shape.length < 2) throw new ShapeError("matmul of vectors is not supported");
    if (x.shape[x.shape.length - 1] !== y.shape[y.shape.length - 2]) {
      throw new ShapeError(`matmul of [${x.shape.join(", ")}] and [${y.shape.join(", ")}]: inner dims differ`);
    }
    const batch = x.shape.length >= y.shape.length ? x.shape.slice(0, -2) : y.shape.slice(0, -2);
    return tensor([...batch, x.shape[x.shape.length - 2]!, y.shape[y.shape.length - 1]!]);
  },
  lower: (ctx) => call("matmul", [ctx.tensor("input", "contiguous"), ctx.tensor("other", "contiguous")], {}, "contiguous"),
});

/** torch.einsum (MaxViT's attention layers). Picking rows by an index tensor is `getitem`'s (python.ts). */

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
