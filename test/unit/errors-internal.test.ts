// fxc's "this cannot happen" checks throw one class, InternalError, which is not an FxcError: the CLI
// prints an FxcError's message as the fix, and anything else as a bug to report.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { InternalError as FromApi } from "fxc";
import { FxcError, InternalError, TrainingError } from "@fxc/runtime";
import { errorFromThread, threadFailure } from "@fxc/runtime/internal/errors";
import { BUG_ADVICE, describeFailure } from "../../compiler/cli/errors.js";
import { getGraphNodeNames } from "../../compiler/api.js";
import { getOp } from "../../compiler/ops/registry.js";
import { Module, type Tensor } from "../../models/nn/index.js";

const ROOT = join(import.meta.dirname, "..", "..");

/** The TypeScript sources of a folder, without built output (dist) and the compiler's output (generated). */
function sources(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) return name === "dist" || name === "generated" || name === "node_modules" ? [] : sources(path);
    return name.endsWith(".ts") && !name.endsWith(".d.ts") ? [path] : [];
  });
}

/** Runs `body` with FXC_DEBUG as given (undefined: unset), as describeFailure reads it. */
function withDebug<T>(value: string | undefined, body: () => T): T {
  const before = process.env.FXC_DEBUG;
  if (value === undefined) delete process.env.FXC_DEBUG;
  else process.env.FXC_DEBUG = value;
  try {
    return body();
  } finally {
    if (before === undefined) delete process.env.FXC_DEBUG;
    else process.env.FXC_DEBUG = before;
  }
}

test("no source of compiler/, runtime/ or models/ throws a plain Error for an internal failure", () => {
  const files = ["compiler", "runtime", "models"].flatMap((f) => sources(join(ROOT, f)));
  assert.ok(files.length > 100, `only ${files.length} sources found`);
  const offenders = files.flatMap((file) =>
    readFileSync(file, "utf8")
      .split("\n")
      .flatMap((line, i) => (/\bError\(\s*["'`]internal:/.test(line) ? [`${relative(ROOT, file)}:${i + 1}: throw new InternalError("...") instead`] : [])),
  );
  assert.deepEqual(offenders, []);
});

test("InternalError prefixes its message with internal: and is no FxcError", () => {
  const e = new InternalError("op relu defined twice");
  assert.equal(e.message, "internal: op relu defined twice");
  assert.equal(e.name, "InternalError");
  assert.ok(e instanceof Error);
  assert.ok(e instanceof InternalError);
  assert.ok(!(e instanceof FxcError));
  assert.match(String(e.stack), /^InternalError: internal: op relu defined twice\n/);
  assert.equal(FromApi, InternalError, "the API and the runtime export the same InternalError");
});

test("fxc's internal checks throw InternalError with the wording they always had", () => {
  assert.throws(() => getOp("no_such_op"), (e: unknown) => e instanceof InternalError && e.message === "internal: no op named no_such_op");
});

test("the CLI prints an InternalError, or any error fxc did not raise on purpose, as a bug to report", () => {
  withDebug(undefined, () => {
    assert.equal(describeFailure(new InternalError("x is used\n before it is lowered")), `internal: x is used before it is lowered (${BUG_ADVICE})`);
    assert.equal(BUG_ADVICE, "a bug in fxc: rerun with FXC_DEBUG=1 for the stack and report it");
    assert.equal(describeFailure(new TypeError("cannot read properties of undefined")), `cannot read properties of undefined (${BUG_ADVICE})`);
    assert.equal(describeFailure("thrown string"), `thrown string (${BUG_ADVICE})`);
    // An FxcError names its own fix; a refused system call names what the machine refused: neither is a bug line.
    assert.equal(describeFailure(new FxcError("bad --workers 0; give 1 or more")), "bad --workers 0; give 1 or more");
    const refused = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", syscall: "write", errno: -28 });
    assert.equal(describeFailure(refused), "ENOSPC: no space left on device, write");
  });
  withDebug("1", () => {
    assert.match(describeFailure(new InternalError("op relu defined twice")), /^InternalError: internal: op relu defined twice\n\s+at /);
  });
});

test("an error keeps its kind across a worker thread: a refusal stays an FxcError, a bug stays one", () => {
  const across = (e: unknown): Error => errorFromThread(structuredClone(threadFailure(e)));
  const refusal = across(new TrainingError("'fc.bias' is not a parameter; give one of the keys"));
  assert.ok(refusal instanceof FxcError);
  assert.equal(String(refusal), "TrainingError: 'fc.bias' is not a parameter; give one of the keys");
  const bug = across(new InternalError("no op named relu"));
  assert.ok(!(bug instanceof FxcError));
  assert.equal(bug.name, "InternalError");
  assert.match(String(bug.stack), /^InternalError: internal: no op named relu\n\s+at .*errors-internal\.test\.ts/);
  withDebug(undefined, () => assert.equal(describeFailure(bug), `internal: no op named relu (${BUG_ADVICE})`));
  assert.equal(across("thrown string").message, "thrown string");
});

/** Passes a string where flatten takes a dim, as untyped JavaScript may: fxc's own argument check fails. */
class FlattensByName extends Module {
  forward(x: Tensor): Tensor {
    return (x as unknown as { flatten(dim: string): Tensor }).flatten("channels");
  }
}

test("an internal check that a user's model trips while tracing is shown at the user's line, not as a bug in fxc", () => {
  assert.throws(
    () => getGraphNodeNames(new FlattensByName(), { size: 4 }),
    (e: unknown) => {
      assert.ok(e instanceof FxcError, `${String(e)} is not an FxcError`);
      assert.match(e.message, /^internal: start_dim must be an int at test\/unit\/errors-internal\.test\.ts:\d+:\d+, while tracing FlattensByName; the tracer follows fxc's module library only/);
      withDebug(undefined, () => assert.ok(!describeFailure(e).includes(BUG_ADVICE)));
      return true;
    },
  );
});
