import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fxc, ROOT } from "../support/cli.js";
import { GALLERY, RESNET18_WEIGHTS } from "../support/fixtures.js";
import { tempDir } from "../support/temp.js";

/**
 * Commands that run a program without writing it (fxc extract, nearest, visualize in one thread)
 * interpret it in-process: they never load TypeScript, ts-morph or prettier, which only commands
 * that emit or read TypeScript need (about 150 MB and a second of start-up).
 */

/** The packages that write and format TypeScript: ts-morph (with the TypeScript it bundles), typescript, prettier. */
const EMITTERS = /\/node_modules\/(typescript|ts-morph|@ts-morph\/common|prettier)\//;

/** Runs fxc with a preload that records every module the process loads; gives the run and the emitter packages among them. */
async function fxcRecordingModules(args: readonly string[]): Promise<{ code: number; stderr: string; emitters: string[] }> {
  const log = join(await tempDir("cli-startup"), "modules.log");
  const r = await fxc(args, { env: { NODE_OPTIONS: `--import ${join(ROOT, "test/support/record-modules/register.mjs")}`, FXC_MODULE_LOG: log } });
  const loaded = (await readFile(log, "utf8")).split("\n");
  const emitters = [...new Set(loaded.filter((url) => EMITTERS.test(url)).map((url) => EMITTERS.exec(url)![1]!))].sort();
  return { code: r.code, stderr: r.stderr, emitters };
}

test("fxc extract on images loads neither TypeScript, ts-morph nor prettier", async () => {
  const dir = await tempDir("cli-startup");
  const r = await fxcRecordingModules(["extract", "resnet18", "--return", "layer1.0", "--weights", RESNET18_WEIGHTS, "--input", GALLERY, "--pool", "avg", "--resize", "72", "--crop", "64", "--out", join(dir, "f.safetensors")]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /fxc: wrote layer1\.0 \[6, 64\]/);
  assert.deepEqual(r.emitters, []);
});

test("fxc compile, which writes TypeScript, does load ts-morph and prettier (the recorder sees them)", async () => {
  const dir = await tempDir("cli-startup");
  const r = await fxcRecordingModules(["compile", "resnet18", "--return", "layer1.0", "--out", dir]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.emitters, ["@ts-morph/common", "prettier", "ts-morph"]);
});
