import { EngineError } from "../../engine.js";
import { OnnxValue, add, mul, sqrt, sub, div } from "./onnx.js";

/** runtime/ops/batchNorm.ts over ONNX, eval mode: running statistics on the channels-last axis. */
export function batchNorm(x: OnnxValue, runningMean: OnnxValue, runningVar: OnnxValue, weight: OnnxValue | null, bias: OnnxValue | null, attrs: { readonly eps: number; readonly training: boolean }): OnnxValue {
  if (attrs.training) throw new EngineError("onnxruntime", "runs eval mode only (batch norm with batch statistics is train mode)", "compile with --mode eval, or use --engine tfjs for train mode");
  const scale = div(weight ?? 1, sqrt(add(runningVar, attrs.eps)));
  const y = mul(sub(x, runningMean), scale);
  return bias === null ? y : add(y, bias);
}
