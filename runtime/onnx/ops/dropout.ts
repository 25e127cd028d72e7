import { EngineError } from "../../engine.js";
import { OnnxValue } from "./onnx.js";

/** runtime/ops/dropout.ts over ONNX. */

export function dropout(_x: OnnxValue, _attrs: { readonly p: number }): OnnxValue {
  throw new EngineError("onnxruntime", "runs eval mode only (dropout is train mode)", "compile with --mode eval, or use --engine tfjs for train mode");
}

export function stochasticDepth(_x: OnnxValue, _attrs: { readonly p: number; readonly mode: string }): OnnxValue {
  throw new EngineError("onnxruntime", "runs eval mode only (stochastic depth is train mode)", "compile with --mode eval, or use --engine tfjs for train mode");
}
