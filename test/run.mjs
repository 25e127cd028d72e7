// Runs the test files under test/unit/ (fast, in-process: tracing, naming, ops, passes, weights) and
// test/e2e/ (end to end: the CLI, numerics against torchvision's fixtures, typecheck, packaging),
// TypeScript through tsx. `--tier unit|e2e` runs one tier; other arguments select files whose path
// contains one of them.
import { readdirSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join, relative } from "node:path";

const TIERS = ["unit", "e2e"];
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const tierAt = args.indexOf("--tier");
const tier = tierAt === -1 ? undefined : args[tierAt + 1];
if (tierAt !== -1 && !TIERS.includes(tier)) {
  console.error(`test/run.mjs: --tier takes ${TIERS.join(" or ")}, not ${tier ?? "nothing"}`);
  process.exit(2);
}
const only = tierAt === -1 ? args : args.filter((_, i) => i !== tierAt && i !== tierAt + 1);
const files = (tier === undefined ? TIERS : [tier]).flatMap((t) =>
  readdirSync(join(root, "test", t))
    .filter((f) => f.endsWith(".test.ts"))
    .sort()
    .map((f) => relative(root, join(root, "test", t, f))),
);
const selected = only.length ? files.filter((f) => only.some((o) => f.includes(o))) : files;
if (selected.length === 0) {
  console.error(`test/run.mjs: no test file matches ${only.join(", ")}`);
  process.exit(2);
}
const result = spawnSync(
  process.execPath,
  ["--conditions=fxc-source", "--import", "tsx", "--test", "--test-concurrency=2", ...selected],
  { cwd: root, stdio: "inherit" },
);
process.exit(result.status ?? 1);
