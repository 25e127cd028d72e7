import { defineOp } from "./registry.js";
import { call } from "./lowering.js";
import { asBool, asNumber, asTensor, type ArgValue } from "./schema.js";
import { ShapeError, tensor } from "../graph/value.js";

defineOp({
  schema: "batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-05)",
  infer(a) {
    const x = asTensor(a.input, "batch_norm input");
    const mean = asTensor(a.running_mean, "running_mean");
    if (x.shape.length < 2 || x.shape[1] !== mean.shape[0]) {
      throw new ShapeError(`batch_norm expects ${String(mean.shape[0])} channels at dim 1, got shape [${x.shape.join(", ")}]`);
    }
    return tensor(x.shape);
  },
  lower(ctx) {
    const x = asTensor(ctx.args.input, "input");
    if (x.shape.length !== 4) throw new ShapeError("batch_norm is supported on 4-D inputs");
    return call("batchNorm", [
        ctx.tensor("input", "channelsLast"),
        ctx.param("running_mean"),
        ctx.param("running_var"),
        ctx.optionalTensor("weight"),
        ctx.optionalTensor("bias"),
      ], batchNormAttrs(asNumber(ctx.args.eps, "eps"), asBool(ctx.args.training, "training"), ctx.args.momentum));
  },
});

/** Train mode carries the momentum that updates the running statistics . */
function batchNormAttrs(eps: number, training: boolean, momentum: ArgValue | undefined): { eps: number; training: boolean; momentum?: number } {
  if (!training) return { eps, training };
  return { eps, training, momentum: asNumber(momentum, "momentum") };
}
