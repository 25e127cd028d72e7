import { LimitSettingError, wholeNumberFromEnvironment } from "../limits.js";
import { DEFAULT_PICKLE_LIMITS, type PickleLimits } from "./pickle.js";

/**
 * Bounds on what reading a checkpoint may cost, checked before allocating: a crafted file fails fast with
 * one line instead of taking gigabytes. The defaults sit far above any real checkpoint; a user with a
 * genuinely larger one raises them with the environment variables below (inherited by worker threads)
 * or, through the API, with `openWeights(path, { limits })`.
 */
export interface WeightsLimits extends PickleLimits {
  /** Bytes of a checkpoint's pickle (a zip's data.pkl, or the pickles before a legacy file's storages). */
  readonly maxPickleBytes: number;
}

export const DEFAULT_WEIGHTS_LIMITS: WeightsLimits = Object.freeze({
  ...DEFAULT_PICKLE_LIMITS,
  // resnet50's data.pkl is 25 KB and a whole training checkpoint's pickle rarely reaches 1 MB.
  maxPickleBytes: 64 * 1024 * 1024,
});

/** The environment variable that raises each limit a user could need more of. */
export const LIMIT_ENVIRONMENT: Readonly<Partial<Record<keyof WeightsLimits, string>>> = Object.freeze({
  maxPickleBytes: "FXC_MAX_PICKLE_BYTES",
  maxObjects: "FXC_MAX_PICKLE_OBJECTS",
});

export { LimitSettingError } from "../limits.js";

/** The limits in force: the defaults, then the environment, then `overrides` (the API's). */
export function weightsLimits(
  overrides: Partial<WeightsLimits> = {},
  environment: NodeJS.ProcessEnv = process.env,
): WeightsLimits {
  const limits: Record<keyof WeightsLimits, number> = { ...DEFAULT_WEIGHTS_LIMITS };
  for (const [name, variable] of Object.entries(LIMIT_ENVIRONMENT) as [keyof WeightsLimits, string][]) {
    limits[name] = wholeNumberFromEnvironment(variable, DEFAULT_WEIGHTS_LIMITS[name], { environment });
  }
  for (const [name, value] of Object.entries(overrides) as [keyof WeightsLimits, number | undefined][]) {
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new LimitSettingError(`limits.${name} must be a positive whole number, got ${String(value)}`);
    }
    limits[name] = value;
  }
  return limits;
}

/** How the user raises `limit`: the environment variable, or the API option where there is none. */
export function howToRaise(limit: keyof WeightsLimits, current: number): string {
  const variable = LIMIT_ENVIRONMENT[limit];
  const setting = variable !== undefined ? `set ${variable} above ${current}` : `pass openWeights(path, { limits: { ${limit}: ... } }) above ${current}`;
  return `if you trust the file and it is really this large, ${setting}; otherwise it is damaged or crafted`;
}
