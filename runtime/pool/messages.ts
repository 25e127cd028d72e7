import type { ThreadFailure } from "../errors.js";
import type { EngineReport, LoadOptions } from "../extractor.js";

/** What the pool and its workers say to each other; tensors travel as transferred buffers. */

export interface WorkerSetup {
  /** URL of a compiled module that exports `load(weights, options)`. */
  readonly moduleUrl: string;
  readonly weights: string;
  /** Without onWarning: a function cannot cross to a worker, whose warnings come back as messages. */
  readonly options: Omit<LoadOptions, "onWarning">;
}

export interface TensorMessage {
  readonly shape: number[];
  readonly data: Float32Array;
}

export type ToWorker = { readonly id: number; readonly input: TensorMessage } | { readonly id: number; readonly close: true };

export type FromWorker =
  | ({ readonly ready: true } & EngineReport)
  /** A warning from loading the weights (every worker loads them, so the pool says each one once). */
  | { readonly warning: string }
  | { readonly id: number; readonly outputs: Record<string, TensorMessage> }
  | { readonly id?: number; readonly error: ThreadFailure };
