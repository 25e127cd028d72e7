import { normalizeDim, tensor } from "../graph/value.js";
import { physicalAxis, storageOrder } from "./layout.js";
import { call } from "./lowering.js";
import { defineOp } from "./registry.js";
import { asBool, asInt, asTensor, type ArgValue } from "./schema.js";

/** Reductions over dims: mean, sum, amax. */

/** Dims of a reduction: an int, a list, or None for all. */
function reduceDims(a: ArgValue | undefined, rank: number): number[] {
  if (a === null || a === undefined) return [...Array(rank).keys()];
  const list = Array.isArray(a) ? (a as ArgValue[]) : [a];
  return list.map((d, i) => normalizeDim(asInt(d, `dim[${i}]`), rank)).sort((x, y) => x - y);
}
for (const [name, runtime] of [
  ["mean", "mean"],
  ["sum", "sum"],
  ["amax", "max"],
] as const) {
  defineOp({
    schema: `${name}(input, dim=None, keepdim=False)`,
    infer(a) {
      const x = asTensor(a.input, `${name} input`);
      const dims = reduceDims(a.dim, x.shape.length);
      const keep = asBool(a.keepdim, "keepdim");
      return tensor(x.shape.flatMap((d, i) => (dims.includes(i) ? (keep ? [1] : []) : [d])));
    },
    lower(ctx) {
      const x = asTensor(ctx.args.input, "input");
      const rank = x.shape.length;
      const dims = reduceDims(ctx.args.dim, rank);
      const keepDims = asBool(ctx.args.keepdim, "keepdim");
      // Reducing channels-last storage keeps torch's order of the remaining dims only in some cases.
      let format = ctx.formatOf("input");
      if (format === "channelsLast" && !keepDims) {
        const remaining = storageOrder(rank, format).filter((d) => !dims.includes(d));
        if (remaining.some((d, i) => i > 0 && d < remaining[i - 1]!)) format = "contiguous";
      }
      const axes = dims.map((d) => physicalAxis(d, rank, format));
      return call(runtime, [ctx.tensor("input", format ?? "any")], { axes, keepDims }, keepDims && rank === 4 ? format ?? "contiguous" : "contiguous");
    },
  });
}
