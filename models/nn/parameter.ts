import type { TableRecipe } from "../../runtime/tables.js";

/**
 * Parameters and buffers hold shapes, not weights: a model built for tracing allocates no
 * weight memory. Weights exist only once a checkpoint is loaded for a compiled graph.
 */
export class Parameter {
  readonly kind = "parameter";
  constructor(readonly shape: readonly number[]) {}
}

export class Buffer {
  readonly kind = "buffer";
  constructor(
    readonly shape: readonly number[],
    readonly options: {
      /** torch dtype name; tfjs has no int64, so integer buffers are converted when read. */
      readonly dtype?: "float32" | "int64";
      /** Non-persistent buffers are not in the state_dict (torch's `persistent=False`). */
      readonly persistent?: boolean;
      /**
       * Values computed at construction (e.g. index tables), named so that compiled code can
       * compute them too: used when the checkpoint has none.
       */
      readonly values?: TableRecipe;
    } = {},
  ) {}

  get persistent(): boolean {
    return this.options.persistent ?? true;
  }
}

export type Tensorlike = Parameter | Buffer;

export function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
