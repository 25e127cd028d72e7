/**
 * The base of every error fxc raises on purpose (bad input, a missing engine, a model the tracer
 * cannot follow): its message names the problem and what to do about it, and the CLI prints it
 * as one line. Anything else that escapes is a bug. `e instanceof FxcError` tells them apart.
 */
export class FxcError extends Error {
  override readonly name: string = "FxcError";
}

/**
 * fxc itself is wrong: a state its own code should never reach (an op defined twice, a node used
 * before it is lowered). Not an FxcError, since no input of the user's is to blame and there is no
 * fix to name; the CLI prints it as a bug to report. The message keeps the `internal: ` prefix users
 * and tests have always seen.
 */
export class InternalError extends Error {
  override readonly name = "InternalError";

  /** `description` is what went wrong, without the `internal: ` prefix, which is added here. */
  constructor(description: string) {
    super(`internal: ${description}`);
  }
}

/** A training request fxc cannot honour: a key that is not a parameter, a kernel without a gradient here. */
export class TrainingError extends FxcError {
  override readonly name = "TrainingError";
}
