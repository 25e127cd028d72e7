import { dimsArg } from "./shape.js";
import { ShapeError, tensor } from "../graph/value.js";
import { call } from "./lowering.js";
import { defineOp } from "./registry.js";
import { asBool, asInt, asNumber, asTensor, type ArgValue } from "./schema.js";

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

/** layer_norm's `normalized_shape`: one int or a list of them. */
const normalizedShape = (a: Readonly<Record<string, ArgValue>>) => dimsArg(Array.isArray(a.normalized_shape) ? a.normalized_shape : [a.normalized_shape], "normalized_shape");
defineOp({
  schema: "layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05)",
  infer(a) {
    const x = asTensor(a.input, "layer_norm input");
    const normalized = normalizedShape(a).map((d, i) => asInt(d, `normalized_shape[${i}]`));
    const tail = x.shape.slice(x.shape.length - normalized.length);
    if (tail.join(",") !== normalized.join(",")) throw new ShapeError(`layer_norm over [${normalized.join(", ")}] needs those last dims, got [${x.shape.join(", ")}]`);
    return tensor(x.shape);
  },
  lower(ctx) {
    const normalized = normalizedShape(ctx.args);
    // Normalizing torch's last dims: the input must be in torch's order.
    return call("layerNorm", [ctx.tensor("input", "contiguous"), ctx.optionalTensor("weight"), ctx.optionalTensor("bias")], { dims: normalized.length, eps: asNumber(ctx.args.eps, "eps") }, "contiguous");
  },
});
