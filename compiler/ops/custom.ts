import type { CustomOpAttrs } from "@fxc/runtime/internal/ops/support/custom";
import type { UserOpSpec } from "../../models/nn/dispatch.js";
import { BATCH, ShapeError, tensor, type Dim } from "../graph/value.js";
import { call } from "./lowering.js";
import { defineUserOp, type OpDef } from "./registry.js";
import { asTensor, type ArgValue } from "./schema.js";

/** Each user op name's current definition: a model defining the name again replaces it, and an older op function re-registers its own when called. */
const current = new Map<string, { readonly spec: UserOpSpec; readonly def: OpDef }>();

/**
 * The compiler's op for a user's `F.defineOp`: bound as `name(inputs, attrs)`, its shape from the
 * user's rule, lowered to the generic `customOp` kernel with `{ name, attrs }` (inputs in torch's
 * order, as the user's kernel reads them; an image-like 4-D result stored channels-last after it,
 * `outFormat`, as every built-in op's). Registered when a trace first calls it.
 */
export function userOpDef(spec: UserOpSpec): OpDef {
  const { name } = spec;
  const known = current.get(name);
  if (known?.spec === spec) return known.def;
  const def = defineUserOp({
    schema: `${name}(inputs, attrs)`,
    infer(args) {
      const inputs = (args.inputs as readonly ArgValue[]).map((a, i) => asTensor(a, `${name}() input ${i}`));
      const shapes = inputs.map((t) => t.shape.map((d) => (d === BATCH ? null : d)));
      let out: readonly (number | null)[];
      try {
        out = spec.shape(shapes, args.attrs as CustomOpAttrs);
      } catch (e) {
        throw new ShapeError(`${name}'s shape rule failed on ${JSON.stringify(shapes)}: ${e instanceof Error ? e.message : String(e)}; fix its shape function`);
      }
      if (!Array.isArray(out) || !out.every((d) => d === null || (Number.isSafeInteger(d) && d >= 0))) {
        throw new ShapeError(`${name}'s shape rule returned ${JSON.stringify(out)}, not a shape; return a list of sizes (null for the batch)`);
      }
      return tensor(out.map((d): Dim => (d === null ? BATCH : d)));
    },
    lower(ctx) {
      // Built-in ops' contract: an image-like 4-D result (not marked F.torchOrder) is stored channels-last, so it is returned in the extractor's layout.
      const imageLike = ctx.out.kind === "tensor" && ctx.out.shape.length === 4 && ctx.out.torchOrder !== true;
      const attrs = { name, attrs: ctx.args.attrs as CustomOpAttrs, ...(imageLike ? { outFormat: "channelsLast" as const } : {}) };
      return call("customOp", [{ kind: "list", items: ctx.tensors("inputs", "contiguous") }], attrs, imageLike ? "channelsLast" : "contiguous");
    },
  });
  current.set(name, { spec, def });
  return def;
}
