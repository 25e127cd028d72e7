import { FxcError } from "@fxc/runtime/internal/errors";

/**
 * Shapes as the module library and the compiler both see them: static except the batch
 * dimension, which stays symbolic (`"N"`) so that one compiled module serves every batch size.
 */

/** The symbolic batch size. */
export const BATCH = "N";
export type Dim = number | typeof BATCH;

/** A shape that the model cannot take, found while inferring shapes (or by a model's own check). */
export class ShapeError extends FxcError {
  override readonly name = "ShapeError";
}
