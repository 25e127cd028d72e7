import { oneLine } from "./weights/types.js";
import { FxcError } from "./errors.js";

/**
 * Engines run a compiled program: `tfjs` (TensorFlow.js, on the backend `useBackend` picks) or
 * `onnxruntime` (ONNX Runtime's CPU execution provider, when onnxruntime-node is installed).
 */
export type EngineName = "onnxruntime" | "tfjs";

/** Best first: what `auto` tries. */
export const ENGINES: readonly EngineName[] = ["onnxruntime", "tfjs"];

/** An engine that is not installed, does not start, or cannot run what was asked. */
export class EngineError extends FxcError {
  override readonly name = "EngineError";

  constructor(
    readonly engine: EngineName,
    readonly problem: string,
    readonly fix: string,
  ) {
    super(oneLine(`engine ${engine} ${problem}; ${fix}`));
  }
}
