import { defineOp } from "./registry.js";
import { call } from "./lowering.js";
import { asInt, asNumber, asString, asTensor, isAbstract, type ArgValue } from "./schema.js";
import { ShapeError, tensor, type Dim } from "../graph/value.js";

/**
 * `F.interpolate` on [N, C, H, W] as torch 1.13 computes it: nearest, and bilinear with or
 * without align_corners, to a `size` or by a `scale_factor` (output floor(in * scale), the
 * scale itself then used for source positions unless recompute_scale_factor).
 */

interface InterpolatePlan {
  readonly shape: Dim[];
  readonly size: [number, number];
  readonly mode: "nearest" | "bilinear";
  readonly alignCorners: boolean;
  readonly scale?: [number, number];
}

const MODES = ["nearest", "bilinear"] as const;
const INTERPOLATING = new Set(["linear", "bilinear", "bicubic", "trilinear"]);

/** An int, a list of ints, or a traced shape (`x.shape[-2:]`), as torch accepts for `size`. */
function sizeArg(a: ArgValue | undefined): number[] | null {
  if (a === null || a === undefined) return null;
  if (isAbstract(a) && a.kind === "size") return a.dims.map((d, i) => asInt(d, `size[${i}]`));
  if (isAbstract(a) && a.kind === "tuple") return a.items.map((d, i) => asInt(d, `size[${i}]`));
  if (Array.isArray(a)) return a.map((d, i) => asInt(d as ArgValue, `size[${i}]`));
  return [asInt(a, "size"), asInt(a, "size")];
}

function scaleArg(a: ArgValue | undefined): number[] | null {
  if (a === null || a === undefined) return null;
  if (Array.isArray(a)) return a.map((d, i) => asNumber(d as ArgValue, `scale_factor[${i}]`));
  const s = asNumber(a, "scale_factor");
  return [s, s];
}

function optionalBool(a: ArgValue | undefined): boolean | null {
  if (a === null || a === undefined) return null;
  if (typeof a === "boolean") return a;
  if (isAbstract(a) && a.kind === "bool") return a.value;
  throw new ShapeError("interpolate: align_corners and recompute_scale_factor take True, False or None");
}

/** The output and the kernel's arguments, with torch's own checks and messages. */
export function planInterpolate(a: Readonly<Record<string, ArgValue>>): InterpolatePlan {
  const x = asTensor(a.input, "interpolate input");
  const mode = asString(a.mode, "mode");
  const alignCorners = optionalBool(a.align_corners);
  if (alignCorners !== null && !INTERPOLATING.has(mode)) {
    throw new ShapeError("align_corners option can only be set with the interpolating modes: linear | bilinear | bicubic | trilinear");
  }
  if (!(MODES as readonly string[]).includes(mode)) {
    throw new ShapeError(`interpolate: mode '${mode}' is not supported by fxc; use 'nearest' or 'bilinear'`);
  }
  if (a.antialias === true) throw new ShapeError("interpolate: antialias=True is not supported by fxc; use antialias=False");
  if (x.shape.length !== 4) {
    throw new ShapeError(`interpolate: fxc supports 4-D inputs [N, C, H, W] (mode '${mode}'), got rank ${x.shape.length}`);
  }
  const size = sizeArg(a.size);
  const scale = scaleArg(a.scale_factor);
  if (size !== null && scale !== null) throw new ShapeError("only one of size or scale_factor should be defined");
  if (size === null && scale === null) throw new ShapeError("either size or scale_factor should be defined");
  const spatial = x.shape.slice(2) as [number, number];
  if (size !== null && size.length !== 2) {
    throw new ShapeError(
      `Input and output must have the same number of spatial dimensions, but got input with spatial dimensions of [${spatial.join(", ")}] and output size of [${size.join(", ")}]. Please provide input tensor in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) format.`,
    );
  }
  if (scale !== null && scale.length !== 2) {
    throw new ShapeError(
      `Input and scale_factor must have the same number of spatial dimensions, but got input with spatial dimensions of [${spatial.join(", ")}] and scale_factor of shape [${scale.join(", ")}]. Please provide input tensor in (N, C, d1, d2, ...,dK) format and scale_factor in (s1, s2, ...,sK) format.`,
    );
  }
  const recompute = optionalBool(a.recompute_scale_factor) === true;
  const out = (size ?? spatial.map((d, i) => Math.floor(d * scale![i]!))) as [number, number];
  if (out.some((d) => d < 1)) throw new ShapeError(`interpolate: the output size [${out.join(", ")}] must be positive`);
  return {
    shape: [x.shape[0]!, x.shape[1]!, ...out],
    size: out,
    mode: mode as InterpolatePlan["mode"],
    alignCorners: alignCorners === true,
    ...(scale !== null && !recompute ? { scale: scale as [number, number] } : {}),
  };
}

defineOp({
  schema: "interpolate(input, size=None, scale_factor=None, mode=nearest, align_corners=None, recompute_scale_factor=None, antialias=False)",
  infer: (a) => tensor(planInterpolate(a).shape),
  lower(ctx) {
    const plan = planInterpolate(ctx.args);
    // To another value's size (the FPN's top-down path): read it when the program runs, so that the program takes any input size.
    const like = ctx.spatialSizeOf("size", "channelsLast");
    if (like !== undefined) {
      return call("interpolateLike", [ctx.tensor("input", "channelsLast"), like], { mode: plan.mode, ...(plan.mode === "bilinear" ? { alignCorners: plan.alignCorners } : {}) });
    }
    return call("interpolate", [ctx.tensor("input", "channelsLast")], {
        size: plan.size,
        mode: plan.mode,
        ...(plan.mode === "bilinear" ? { alignCorners: plan.alignCorners } : {}),
        ...(plan.scale === undefined ? {} : { scale: plan.scale }),
      });
  },
});
