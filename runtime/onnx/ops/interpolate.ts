import type { InterpolateAttrs, InterpolateLikeAttrs } from "../../ops/interpolate.js";
import { OnnxValue, transpose } from "./onnx.js";

/**
 * runtime/ops/interpolate.ts over ONNX: one Resize on NCHW. torch's nearest rule
 * (floor(dst * in/out), clamped) is Resize's 'asymmetric' transform with 'floor' rounding;
 * bilinear without align_corners is 'half_pixel' (negative sources clamped to 0, as torch
 * clamps them), with align_corners 'align_corners'. A scale_factor goes in as Resize's
 * `scales`, so that source positions use 1/scale_factor as torch's kernel does; otherwise
 * the output size goes in as `sizes`.
 */
export function interpolate(x: OnnxValue, attrs: InterpolateAttrs): OnnxValue {
  const [n, , , c] = x.shape as [number, number, number, number];
  const g = x.graph;
  const scales = attrs.scale === undefined ? undefined : g.constant({ dtype: "float", dims: [4], data: Float32Array.of(1, 1, attrs.scale[0]!, attrs.scale[1]!) });
  return resize(x, scales === undefined ? { sizes: g.int64s([n, c, attrs.size[0]!, attrs.size[1]!]) } : { scales }, [attrs.size[0]!, attrs.size[1]!], attrs);
}

/**
 * runtime/ops/interpolate.ts's interpolateLike: Resize to `like`'s height and width as the graph
 * runs (Shape nodes, not constants), so that one graph serves every input size.
 */
export function interpolateLike(x: OnnxValue, like: OnnxValue, attrs: InterpolateLikeAttrs): OnnxValue {
  const g = x.graph;
  const [, oh, ow] = like.shape as [number, number, number, number];
  const batch = g.node("Shape", [x], { start: 0, end: 1 }, [1], "int64");
  const channels = g.node("Shape", [x], { start: 3, end: 4 }, [1], "int64");
  const heightAndWidth = g.node("Shape", [like], { start: 1, end: 3 }, [2], "int64");
  const sizes = g.node("Concat", [batch, channels, heightAndWidth], { axis: 0 }, [4], "int64");
  return resize(x, { sizes }, [oh, ow], attrs);
}

/** One Resize on NCHW of an NHWC value, to `sizes` (N, C, H, W) or by `scales`. */
function resize(x: OnnxValue, target: { readonly sizes: OnnxValue } | { readonly scales: OnnxValue }, out: readonly [number, number], attrs: InterpolateLikeAttrs): OnnxValue {
  const [n, , , c] = x.shape as [number, number, number, number];
  const nchw = transpose(x, [0, 3, 1, 2]);
  const transform = attrs.mode === "nearest" ? "asymmetric" : attrs.alignCorners === true ? "align_corners" : "half_pixel";
  const inputs = "scales" in target ? [nchw, "", target.scales] : [nchw, "", "", target.sizes];
  const resized = x.graph.node(
    "Resize",
    inputs,
    { mode: attrs.mode === "nearest" ? "nearest" : "linear", coordinate_transformation_mode: transform, ...(attrs.mode === "nearest" ? { nearest_mode: "floor" } : {}) },
    [n, c, out[0], out[1]],
  );
  return transpose(resized, [0, 2, 3, 1]);
}
