import { EngineError } from "../../engine.js";
import type { CustomOpAttrs } from "../../ops/support/custom.js";
import type { OnnxValue } from "./onnx.js";

/** runtime/ops/custom.ts over ONNX: a user op's kernel is a tfjs function, which an ONNX graph cannot hold. */
export function customOp(_inputs: readonly OnnxValue[], op: { readonly name: string; readonly attrs: CustomOpAttrs; readonly outFormat?: "channelsLast" }): OnnxValue {
  throw customOpRefusal(op.name);
}

/** Why the ONNX engine refuses a module calling user op `name`, as one line. */
export function customOpRefusal(name: string): EngineError {
  return new EngineError("onnxruntime", `cannot run user op '${name}' (its kernel is a tfjs function registered with registerOp)`, "use engine tfjs, or leave engine out to fall back to it");
}
