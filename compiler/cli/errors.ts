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

/**
 * The one line printed for a failure: the problem and its fix, never a stack (unless FXC_DEBUG is set).
 * Messages quote paths and names from files and folders, so what a terminal would act on is escaped.
 */
export function describeFailure(e: unknown): string {
  if (process.env.FXC_DEBUG && e instanceof Error && e.stack) return e.stack;
  return terminalLine(e instanceof Error ? e.message : String(e));
}

/** Prints a warning as the CLI prints them all: `fxc: warning: ...`, one line, escaped as failures are. */
export function printWarning(message: string): void {
  console.error(`fxc: warning: ${terminalLine(message)}`);
}

function terminalLine(message: string): string {
  return printable(message.replace(/\s*\n\s*/g, " "));
}
