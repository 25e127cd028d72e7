import type { KernelAttrs } from "@fxc/runtime/internal/kernels";
import { defineOp } from "./registry.js";
import { asInt, asTensor } from "./schema.js";
import { call, type LowerContext, type LoweredCall } from "./lowering.js";
import { BATCH, ShapeError, normalizeDim, tensor, type Dim } from "../graph/value.js";

/**
 * Shape ops work in torch's dim order. A channels-last input is brought to torch order
 * first (`inFormat`), and a 4-D result is stored channels-last again (`outFormat`), so
 * every 4-D value outside these ops keeps the layout that convolutions want; one marked
 * `torchOrder` (not image-like) stays in torch's order.
 */
/** The kernels lowerShapeOp writes, each taking the layout attrs it adds. */
type ShapeKernel = "flatten" | "reshape" | "expand" | "index";
type LayoutAttrs = "inFormat" | "outFormat";

export function lowerShapeOp<K extends ShapeKernel>(ctx: LowerContext, op: K, attrs: Omit<KernelAttrs<K>, LayoutAttrs>): LoweredCall {
  const outRank = ctx.out.kind === "tensor" ? ctx.out.shape.length : 0;
  const imageLike = outRank === 4 && ctx.out.kind === "tensor" && ctx.out.torchOrder !== true;
  const inFormat = ctx.formatOf("input");
  const layout = { ...(inFormat === "channelsLast" ? { inFormat } : {}), ...(imageLike ? { outFormat: "channelsLast" } : {}) };
  // K's attrs are exactly `attrs` plus the layout ones, which tsc cannot prove for a generic K.
  return call(op, [ctx.tensor("input", "any")], { ...attrs, ...layout } as KernelAttrs<K>, imageLike || outRank !== 4 ? "channelsLast" : "contiguous");
}

/** Multiplies static dims; the free batch cannot be merged with other dims. */
function product(dims: readonly Dim[]): Dim {
  if (dims.length === 1) return dims[0]!;
  if (dims.includes(BATCH)) throw new ShapeError("merging the batch dim with other dims is not supported: the batch stays free");
  return dims.reduce<number>((a, b) => a * (b as number), 1);
}

defineOp({
  schema: "flatten(input, start_dim=0, end_dim=-1)",
  infer(a) {
    const x = asTensor(a.input, "flatten input");
    if (x.shape.length === 0) return tensor([1]);
    const s = normalizeDim(asInt(a.start_dim, "start_dim"), x.shape.length, "start_dim");
    const e = normalizeDim(asInt(a.end_dim, "end_dim"), x.shape.length, "end_dim");
    return tensor([...x.shape.slice(0, s), product(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)]);
  },
  lower(ctx) {
    const rank = asTensor(ctx.args.input, "input").shape.length;
    return lowerShapeOp(ctx, "flatten", {
      startDim: normalizeDim(asInt(ctx.args.start_dim, "start_dim"), rank),
      endDim: normalizeDim(asInt(ctx.args.end_dim, "end_dim"), rank),
    });
  },
});
