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

/**
 * An error of a worker thread as it crosses to the thread that waits on it. A message keeps an
 * Error's text but not its class, and the class is what tells a refusal (an FxcError, whose
 * message is the fix) from a bug, which the CLI prints with the advice to report it; the worker's
 * stack is the one a bug report needs.
 */
export interface ThreadFailure {
  readonly name: string;
  readonly message: string;
  readonly stack: string | undefined;
  readonly deliberate: boolean;
}

/** What a worker thread posts for an error it caught. */
export function threadFailure(e: unknown): ThreadFailure {
  if (!(e instanceof Error)) return { name: "Error", message: String(e), stack: undefined, deliberate: false };
  return { name: e.name, message: e.message, stack: e.stack, deliberate: e instanceof FxcError };
}

/** A worker's error in the thread that waits on it: an FxcError when it was one there, with its name and stack. */
export function errorFromThread(failure: ThreadFailure): Error {
  const error = failure.deliberate ? new FxcError(failure.message) : new Error(failure.message);
  Object.defineProperty(error, "name", { value: failure.name, configurable: true, writable: true });
  if (failure.stack !== undefined) error.stack = failure.stack;
  return error;
}
