import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

test("examples/finetune-fpn.ts runs with tsx, offline, and its loss goes down", () => {
  const r = spawnSync(process.execPath, ["--conditions=fxc-source", "--import", "tsx", join(ROOT, "examples", "finetune-fpn.ts"), "--steps", "8"], { cwd: ROOT, encoding: "utf8", timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr);
  const losses = [...r.stdout.matchAll(/^step +\d+ +loss (\S+)$/gm)].map((m) => Number(m[1]));
  assert.equal(losses.length, 8, r.stdout);
  assert.ok(losses.every(Number.isFinite), r.stdout);
  assert.ok(losses[7]! < losses[0]!, `the loss went from ${losses[0]} to ${losses[7]}:\n${r.stdout}`);
});
