import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { compile, createFeatureExtractor } from "../../compiler/api.js";
import { importCompiled } from "../../compiler/cli/cache.js";
import { tf } from "../../runtime/index.js";
import type { CompiledModule } from "../../runtime/extractor.js";
import { readNpy } from "../../runtime/io/npy.js";
import { fxc, ROOT } from "../support/cli.js";
import { caseErrors, caseInput, FIXTURES, fixtureCases, RESNET18_CASE, RESNET18_WEIGHTS } from "../support/fixtures.js";

/** The command in a generated file's header. */
function headerCommand(source: string): string[] {
  const m = /^\/\/ Do not edit\. Regenerate with: npx (fxc compile .*)$/m.exec(source);
  assert.ok(m, "the header names the command that regenerates the file");
  return m[1]!.split(" ").slice(1);
}

test("every checked-in generated module is what its header's command writes now", async () => {
  const files = (await readdir(join(ROOT, "generated"))).filter((f) => f.endsWith(".ts"));
  assert.ok(files.includes("resnet50.ts"));
  for (const file of files) {
    const source = await readFile(join(ROOT, "generated", file), "utf8");
    const r = await fxc([...headerCommand(source), "--check"]);
    assert.equal(r.code, 0, `${file}: ${r.stderr}`);
  }
});

test("generated/resnet50.ts returns layer1 to layer4 and reads nothing after layer4", async () => {
  const source = await readFile(join(ROOT, "generated", "resnet50.ts"), "utf8");
  assert.deepEqual(headerCommand(source), ["compile", "resnet50", "--return", "layer1,layer2,layer3,layer4"]);
  assert.match(source, /export interface Resnet50Features \{\n(\s+\/\*\*.*\*\/\n\s+layer\d: Tensor4D;\n){4}\}/);
  assert.doesNotMatch(source, /"fc\.weight"/);
  assert.match(source, /^import \{[^}]*\} from "@fxc\/runtime";$/m);
  assert.equal(source.match(/^import /gm)!.length, 1, "the module imports only the runtime");
});

test("compiling is deterministic", async () => {
  const options = { returnNodes: { layer2: "mid", fc: "logits" }, size: 96, layout: "nchw" } as const;
  const a = await compile("resnet34", options);
  const b = await compile("resnet34", options);
  assert.equal(a, b);
  assert.match(a, /Regenerate with: npx fxc compile resnet34 --return layer2:mid,fc:logits --size 96 --layout nchw$/m);
});

test("one statement per node, each named after its node and commented with it", async () => {
  const source = await compile("resnet18", { returnNodes: ["layer1"], size: 64, mode: "train" });
  const forward = source.slice(source.indexOf("function forward"));
  for (const node of ["conv1", "bn1", "relu", "maxpool", "layer1.0.conv1", "layer1.0.add", "layer1.1.relu_1"]) {
    const id = node.replace(/\./g, "_");
    assert.match(forward, new RegExp(`// ${node.replace(/\./g, "\\.")}\\n\\s+const ${id} = ops\\.`), node);
  }
  assert.match(forward, /dispose\(x\);/, "intermediates are freed after their last use");
  assert.doesNotMatch(source, /tidy/, "no tf.tidy holds the whole forward");
});

test("the generated module and createFeatureExtractor give exactly the same values", async () => {
  const options = { returnNodes: { maxpool: "stem", "layer1.0": "block" }, size: 32, layout: "nchw" } as const;
  const compiled = await importCompiled<CompiledModule>(await compile("resnet18", options));
  const fromCode = await compiled.load(RESNET18_WEIGHTS);
  const fromGraph = await createFeatureExtractor("resnet18", options).load(RESNET18_WEIGHTS);
  const input = await readNpy(join(RESNET18_CASE, "input.npy"));
  const x = tf.tensor4d(input.data, input.shape as [number, number, number, number]);
  const before = tf.memory().numTensors;
  const a = await fromCode.run(x);
  const afterCode = tf.memory().numTensors;
  const b = await fromGraph.run(x);
  assert.equal(afterCode - before, 2, "the generated forward leaves only its two outputs");
  for (const key of ["stem", "block"]) {
    assert.deepEqual(Array.from(await a[key]!.data()), Array.from(await b[key]!.data()), key);
  }
  tf.dispose([x, ...Object.values(a), ...Object.values(b)]);
  fromCode.dispose();
  fromGraph.dispose();
});

test("generated densenet code reads a checkpoint with torchvision's old key names and equals torchvision", async () => {
  const c = fixtureCases((x) => x.id === "densenet121_old_keys")[0]!;
  const source = await compile("densenet121", { returnNodes: c.returnNodes, size: 32, layout: "nchw", suppressDiffWarning: true });
  assert.match(source, /const keyRenames = \[/);
  assert.match(source, /createExtractor\(\s*\{ checkpoint, parameters, keyRenames, buffers, inputShape, inputSize, forward \}/);
  const compiled = await importCompiled<CompiledModule>(source);
  const extractor = await compiled.load(join(FIXTURES, "cases", c.id, c.weights));
  try {
    const x = await caseInput(c);
    const out = await extractor.run(x);
    x.dispose();
    const errors = await caseErrors(c, out);
    tf.dispose(Object.values(out));
    for (const [key, error] of Object.entries(errors)) assert.ok(error <= c.tolerance, `${key}: relative error ${error}`);
  } finally {
    extractor.dispose();
  }
});

test("models without key renames generate no keyRenames", async () => {
  const source = await compile("mobilenet_v2", { returnNodes: ["features.1"], size: 32, suppressDiffWarning: true });
  assert.doesNotMatch(source, /keyRenames/);
});
