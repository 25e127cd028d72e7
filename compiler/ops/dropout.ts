import { lowerElementwise } from "./elementwise.js";
import { tensor } from "../graph/value.js";
import { call } from "./lowering.js";
import { defineOp } from "./registry.js";
import { asBool, asNumber, asString, asTensor } from "./schema.js";

/** Dropout and stochastic depth: the identity in eval mode, random zeroing in train mode. */

defineOp({
  schema: "dropout(input, p=0.5, training=True, inplace=False)",
  infer: (a) => tensor(asTensor(a.input, "dropout").shape),
  lower(ctx) {
    // Dropout is the identity in eval mode.
    if (!asBool(ctx.args.training, "training")) return { alias: ctx.tensor("input", "any") };
    return lowerElementwise(ctx, "dropout", ["input"], { p: asNumber(ctx.args.p, "p") });
  },
});

defineOp({
  schema: "stochastic_depth(input, p, mode, training=True)",
  infer: (a) => tensor(asTensor(a.input, "stochastic_depth input").shape),
  lower(ctx) {
    const p = asNumber(ctx.args.p, "p");
    // The identity in eval mode, as in torchvision.
    if (!asBool(ctx.args.training, "training") || p === 0) return { alias: ctx.tensor("input", "any") };
    return call("stochasticDepth", [ctx.tensor("input", "any")], { p, mode: asString(ctx.args.mode, "mode") }, ctx.formatOf("input") ?? "contiguous");
  },
});
