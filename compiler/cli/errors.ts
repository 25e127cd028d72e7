import { printable } from "@fxc/runtime/internal/io/printable";
import { FxcError } from "@fxc/runtime/internal/errors";

/** A command line the CLI cannot act on; the message says what to write instead. */
export class UsageError extends FxcError {
  override readonly name = "UsageError";
}

/** The run was stopped (Ctrl-C, SIGTERM); exits 130 as shells expect. */
export class InterruptedError extends FxcError {
  override readonly name = "InterruptedError";
}

/** What a user does about a failure that is fxc's own fault, which no change to the input fixes. */
export const BUG_ADVICE = "a bug in fxc: rerun with FXC_DEBUG=1 for the stack and report it";

/**
 * The one line printed for a failure: the problem and its fix, never a stack (unless FXC_DEBUG is set).
 * Messages quote paths and names from files and folders, so what a terminal would act on is escaped.
 * An FxcError's message names its own fix; anything else (an InternalError, or an error fxc let
 * through) ends with BUG_ADVICE, except a system error, which names what the system refused.
 */
export function describeFailure(e: unknown): string {
  if (process.env.FXC_DEBUG && e instanceof Error && e.stack) return e.stack;
  const line = terminalLine(e instanceof Error ? e.message : String(e));
  return e instanceof FxcError || isSystemError(e) ? line : `${line} (${BUG_ADVICE})`;
}

/** Node's errors for a refused system call (`EACCES: permission denied, open 'x'`): about the machine, not fxc. */
function isSystemError(e: unknown): boolean {
  return e instanceof Error && "syscall" in e && typeof e.syscall === "string" && "code" in e && typeof e.code === "string";
}

/** Prints a warning as the CLI prints them all: `fxc: warning: ...`, one line, escaped as failures are. */
export function printWarning(message: string): void {
  console.error(`fxc: warning: ${terminalLine(message)}`);
}

function terminalLine(message: string): string {
  return printable(message.replace(/\s*\n\s*/g, " "));
}
