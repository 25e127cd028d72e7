// Every error fxc raises on purpose shares one base class, so a caller can tell fxc's refusals
// (bad input, a missing engine, a model the tracer cannot follow) from bugs with one instanceof.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { FxcError as FromApi } from "fxc";
import { FxcError } from "@fxc/runtime";

const ROOT = join(import.meta.dirname, "..", "..");

function sources(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith(".ts") && !name.endsWith(".d.ts") ? [path] : [];
  });
}

test("the API and the runtime export the same FxcError", () => {
  assert.equal(FromApi, FxcError);
});

test("every exported error class of compiler/, runtime/ and models/ but InternalError is an FxcError", async () => {
  const classes: string[] = [];
  for (const file of ["compiler", "runtime", "models"].flatMap((f) => sources(join(ROOT, f)))) {
    const declared = [...readFileSync(file, "utf8").matchAll(/export class (\w+Error)\b/g)].map((m) => m[1]!);
    if (declared.length === 0) continue;
    const module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    // InternalError is the one that is not: it means fxc is wrong, not its input (errors-internal.test.ts).
    for (const name of declared.filter((n) => n !== "InternalError")) {
      const cls = module[name] as { prototype: unknown };
      classes.push(name);
      assert.ok(cls === FxcError || cls.prototype instanceof FxcError, `${relative(ROOT, file)}: ${name} does not extend FxcError`);
    }
  }
  // The error classes the CLI's one-line failures come from, among them.
  for (const name of ["UsageError", "WeightsError", "EngineError", "BackendError", "ImageError", "TraceError", "ReturnNodeError", "OptionsError", "OutputError"]) {
    assert.ok(classes.includes(name), `${name} not found`);
  }
});
