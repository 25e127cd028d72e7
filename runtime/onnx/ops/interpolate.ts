import type { InterpolateAttrs } from "../../ops/interpolate.js";
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
  const [oh, ow] = [attrs.size[0]!, attrs.size[1]!];
  const g = x.graph;
  const nchw = transpose(x, [0, 3, 1, 2]);
  const transform = attrs.mode === "nearest" ? "asymmetric" : attrs.alignCorners === true ? "align_corners" : "half_pixel";
  const scales = attrs.scale === undefined ? undefined : g.constant({ dtype: "float", dims: [4], data: Float32Array.of(1, 1, attrs.scale[0]!, attrs.scale[1]!) });
  const inputs = scales === undefined ? [nchw, "", "", g.int64s([n, c, oh, ow])] : [nchw, "", scales];
  const resized = g.node(
    "Resize",
    inputs,
    { mode: attrs.mode === "nearest" ? "nearest" : "linear", coordinate_transformation_mode: transform, ...(attrs.mode === "nearest" ? { nearest_mode: "floor" } : {}) },
    [n, c, oh, ow],
  );
  return transpose(resized, [0, 2, 3, 1]);
}
