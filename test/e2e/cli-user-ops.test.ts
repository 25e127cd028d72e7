import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { assertOneLineError, fxc } from "../support/cli.js";
import { tempDir } from "../support/temp.js";
import { seededTensor } from "../support/seeded.js";
import { writeNpy } from "../../runtime/io/npy.js";
import { writeSafetensors } from "../../runtime/weights/safetensors.js";
import { SoftplusNet } from "../fixtures/user-models/user-op.js";

/** A user model with its own op (F.defineOp) through the CLI: compiled to customOp, run on tfjs, refused by onnxruntime in one line. */

const MODEL = "./test/fixtures/user-models/user-op.ts#SoftplusNet";

test("fxc compile writes the user op as a customOp call and names it for load; fxc extract runs it on tfjs by default and --engine onnxruntime is one line", async () => {
  const dir = await tempDir("user-op-cli");
  const compiled = await fxc(["compile", MODEL, "--return", "shifted_softplus", "--out", dir, "--size", "4"]);
  assert.equal(compiled.code, 0, compiled.stderr);
  const source = await readFile(join(dir, "SoftplusNet.ts"), "utf8");
  assert.match(source, /ops\.customOp<4>\(\[conv_nchw\], \{ name: "shifted_softplus", attrs: \{ shift: 0\.69\d+ \} \}\)|ops\.customOp<4>\(\[conv_nchw\], \{\s+name: "shifted_softplus",/);
  assert.match(source, /customOps: \["shifted_softplus"\]/);

  const model = new SoftplusNet();
  const weights = [...model.namedParameters()].map(([key, p]) => ({ key, shape: [...p.shape], data: seededTensor(key, p.shape, 5) }));
  await writeSafetensors(join(dir, "w.safetensors"), weights);
  await writeNpy(join(dir, "x.npy"), [1, 4, 4, 3], Float32Array.from({ length: 48 }, (_, i) => Math.sin(i)));
  const extract = (out: string, engine: string[]) => fxc(["extract", MODEL, "--return", "shifted_softplus", "--weights", join(dir, "w.safetensors"), "--input", join(dir, "x.npy"), "--out", join(dir, out), ...engine]);
  const byDefault = await extract("a.safetensors", []);
  assert.equal(byDefault.code, 0, byDefault.stderr);
  assert.match(byDefault.stderr, /engine tfjs.*\(not onnxruntime: engine onnxruntime cannot run user op 'shifted_softplus'/);
  assertOneLineError(await extract("b.safetensors", ["--engine", "onnxruntime"]), /^fxc: engine onnxruntime cannot run user op 'shifted_softplus' \(its kernel is a tfjs function registered with registerOp\); use engine tfjs/);
});
