import { EngineError } from "../../engine.js";
import { OnnxValue, transpose } from "./onnx.js";

/**
 * runtime/ops/norm.ts over ONNX, eval mode: ONNX's BatchNormalization, which wants channels
 * on axis 1, between two moves of the channels-last axis that ORT's transpose optimizer cancels
 * against the neighbouring convolutions'. One op, not its arithmetic (Sub, Mul, Add): ORT turns a
 * BatchNormalization into a 1x1 depthwise convolution of its blocked (NCHWc) layout with the
 * following Relu fused, so that a batch norm before a convolution (densenet's dense layers,
 * maxvit's MBConv) keeps the tensor in that layout instead of reordering it out and back.
 */
export function batchNorm(x: OnnxValue, runningMean: OnnxValue, runningVar: OnnxValue, weight: OnnxValue | null, bias: OnnxValue | null, attrs: { readonly eps: number; readonly training: boolean }): OnnxValue {
  if (attrs.training) throw new EngineError("onnxruntime", "runs eval mode only (batch norm with batch statistics is train mode)", "compile with --mode eval, or use --engine tfjs for train mode");
  const g = x.graph;
  const channels = x.shape[x.rank - 1]!;
  const filled = (value: number): OnnxValue => g.constant({ dtype: "float", dims: [channels], data: new Float32Array(channels).fill(value) });
  // [N, ...spatial, C] to [N, C, ...spatial] and back; rank 2 ([N, C]) needs neither.
  const spatial = Array.from({ length: x.rank - 2 }, (_, i) => i + 1);
  const channelsFirst = transpose(x, [0, x.rank - 1, ...spatial]);
  const y = g.node("BatchNormalization", [channelsFirst, weight ?? filled(1), bias ?? filled(0), runningMean, runningVar], { epsilon: { float: attrs.eps } }, channelsFirst.shape);
  return transpose(y, [0, ...spatial.map((a) => a + 1), 1]);
}

/** torch's layer_norm over the last `dims` dims: ONNX's LayerNormalization (biased variance, as torch). */
export function layerNorm(x: OnnxValue, weight: OnnxValue | null, bias: OnnxValue | null, attrs: { readonly dims: number; readonly eps: number }): OnnxValue {
  const normalized = x.shape.slice(-attrs.dims);
  const g = x.graph;
  const ones = (value: number): OnnxValue => g.constant({ dtype: "float", dims: normalized, data: new Float32Array(normalized.reduce((a, b) => a * b, 1)).fill(value) });
  const inputs = [x, weight ?? ones(1), bias ?? ones(0)];
  return g.node("LayerNormalization", inputs, { axis: -attrs.dims, epsilon: { float: attrs.eps } }, x.shape);
}
