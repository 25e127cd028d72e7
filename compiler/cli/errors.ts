/** A command line the CLI cannot act on; the message says what to write instead. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** The run was stopped (Ctrl-C, SIGTERM); exits 130 as shells expect. */
export class InterruptedError extends Error {
  override readonly name = "InterruptedError";
}

/** The one line printed for a failure: the problem and its fix, never a stack (unless FXC_DEBUG is set). */
export function describeFailure(e: unknown): string {
  if (process.env.FXC_DEBUG && e instanceof Error && e.stack) return e.stack;
  const message = e instanceof Error ? e.message : String(e);
  return message.replace(/\s*\n\s*/g, " ");
}
