import { lowerElementwise, type UnaryKernel } from "./elementwise.js";
import { normalizeDim, tensor } from "../graph/value.js";
import { physicalAxis } from "./layout.js";
import { call } from "./lowering.js";
import { defineOp } from "./registry.js";
import { asInt, asTensor } from "./schema.js";

/** Activations: elementwise ones (lowered with the binary ops' rule) and softmax. */

/** Unary ops that keep the shape; the runtime op has the same name in camelCase. */
const unary: [schema: string, runtime: Exclude<UnaryKernel, "gelu" | "dropout">][] = [
  ["relu(input, inplace=False)", "relu"],
  ["relu6(input, inplace=False)", "relu6"],
  ["sigmoid(input)", "sigmoid"],
  ["tanh(input)", "tanh"],
  ["silu(input, inplace=False)", "silu"],
  ["hardswish(input, inplace=False)", "hardswish"],
  ["hardsigmoid(input, inplace=False)", "hardsigmoid"],
];
for (const [schema, runtime] of unary) {
  defineOp({
    schema,
    infer: (a) => tensor(asTensor(a.input, runtime).shape),
    lower: (ctx) => lowerElementwise(ctx, runtime, ["input"], {}),
  });
}
defineOp({
  schema: "gelu(input, approximate=none)",
  infer: (a) => tensor(asTensor(a.input, "gelu").shape),
  lower: (ctx) => lowerElementwise(ctx, "gelu", ["input"], { approximate: String(ctx.args.approximate) }),
});

defineOp({
  schema: "softmax(input, dim, _stacklevel=3, dtype=None)",
  infer: (a) => tensor(asTensor(a.input, "softmax input").shape),
  lower(ctx) {
    const rank = asTensor(ctx.args.input, "input").shape.length;
    const format = ctx.formatOf("input");
    return call("softmax", [ctx.tensor("input", "any")], { axis: physicalAxis(normalizeDim(asInt(ctx.args.dim, "dim"), rank), rank, format) }, format ?? "contiguous");
  },
});
