// Runs every test file under test/ with node's test runner, TypeScript through tsx.
import { readdirSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join, relative } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const files = readdirSync(join(root, "test"))
  .filter((f) => f.endsWith(".test.ts"))
  .sort()
  .map((f) => relative(root, join(root, "test", f)));
const only = process.argv.slice(2);
const selected = only.length ? files.filter((f) => only.some((o) => f.includes(o))) : files;
const result = spawnSync(
  process.execPath,
  ["--conditions=fxc-source", "--import", "tsx", "--test", "--test-concurrency=2", ...selected],
  { cwd: root, stdio: "inherit" },
);
process.exit(result.status ?? 1);
