// A module resolution hook that appends every resolved URL to a log file, one a line.
import { appendFileSync } from "node:fs";

let log;

export async function initialize(data) {
  log = data.log;
}

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(log, `${resolved.url}\n`);
  return resolved;
}
