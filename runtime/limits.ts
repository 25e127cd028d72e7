import { FxcError } from "./errors.js";
/**
 * The one way fxc reads a limit from the environment: the weights readers (FXC_MAX_PICKLE_*), the
 * image limits (FXC_MAX_IMAGE_PIXELS, FXC_MAX_PREPROCESS_SIDE) all go through
 * `wholeNumberFromEnvironment`, so a bad setting reads the same
 * everywhere. Limits are read at use, so that the CLI, the API and worker threads see the same value.
 */

/** A limit variable set to something that is not a whole number in its range. */
export class LimitSettingError extends FxcError {
  override readonly name = "LimitSettingError";
}

/**
 * The whole number `variable` holds (at least `least`, 1 by default), or `fallback` where it is unset
 * or empty. Anything else is a LimitSettingError naming the variable, what it takes and its default.
 */
export function wholeNumberFromEnvironment<F extends number | undefined>(
  variable: string,
  fallback: F,
  options: { readonly least?: number; readonly environment?: NodeJS.ProcessEnv } = {},
): number | F {
  const least = options.least ?? 1;
  const text = (options.environment ?? process.env)[variable];
  if (text === undefined || text.trim() === "") return fallback;
  const value = Number(text.trim());
  if (Number.isSafeInteger(value) && value >= least) return value;
  const wanted = least === 1 ? "a positive whole number" : `a whole number from ${least} on`;
  const otherwise = fallback === undefined ? "or unset it" : `(default ${fallback}) or unset it`;
  // The setting is quoted short: it is echoed into a one-line message.
  throw new LimitSettingError(`${variable}=${JSON.stringify(text.slice(0, 40))} is not ${wanted}; set it to one ${otherwise}`);
}
