import { defineOp } from "./registry.js";
import { call } from "./lowering.js";
import { asTensor } from "./schema.js";
import { ShapeError, tensor } from "../graph/value.js";

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
