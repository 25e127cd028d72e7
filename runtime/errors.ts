/**
 * The base of every error fxc raises on purpose (bad input, a missing engine, a model the tracer
 * cannot follow): its message names the problem and what to do about it, and the CLI prints it
 * as one line. Anything else that escapes is a bug. `e instanceof FxcError` tells them apart.
 */
export class FxcError extends Error {
  override readonly name: string = "FxcError";
}

/** A training request fxc cannot honour: a key that is not a parameter, a kernel without a gradient here. */
export class TrainingError extends FxcError {
  override readonly name = "TrainingError";
}
