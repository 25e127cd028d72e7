import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { compile, createFeatureExtractor } from "../../compiler/api.js";
import { importCompiled } from "../../compiler/cli/cache.js";
import { UsageError } from "../../compiler/cli/errors.js";
import { parseReturnSpec } from "../../compiler/cli/spec.js";
import { emitModule, inputShapeFor } from "../../compiler/emit/emitter.js";
import { interpret } from "../../compiler/interpret/interpreter.js";
import { indexRecipe } from "../../compiler/tasks/nearest.js";
import { MAX_NAME_LENGTH, outputKeyMessage } from "../../compiler/names.js";
import { ReturnNodeError } from "../../compiler/passes/returnNodes.js";
import { OptionsError } from "../../compiler/pipeline.js";
import { FXC_VERSION, TORCHVISION_VERSION } from "../../compiler/version.js";
import type { Program } from "../../compiler/graph/program.js";
import { createExtractor, tf, type Tensor } from "../../runtime/index.js";
import type { CompiledModule } from "../../runtime/extractor.js";
import { FeatureWriter } from "../../runtime/io/featureStore.js";
import { readNpy } from "../../runtime/io/npy.js";
import { assertOneLineError, fxc } from "../support/cli.js";
import { GALLERY, RESNET18_CASE, RESNET18_WEIGHTS, torchvisionNodeNames } from "../support/fixtures.js";
import { tempDir } from "../support/temp.js";

/** A line of JavaScript that, if it ever ran, would create `marker`. */
function injectedCode(marker: string): string {
  return `import("child_process").then((c) => c.execSync("touch ${marker}"))//`;
}

const HOSTILE_KEYS = ["__proto__", "constructor", "prototype", "a\nb", "a*/b", "../../escaped", "a/b", "-a", "a b", 'a"b', "", "x".repeat(MAX_NAME_LENGTH + 1)];

test("every torchvision node name is a valid output key as it is", () => {
  for (const [model, modes] of Object.entries(torchvisionNodeNames())) {
    for (const name of [...modes.train, ...modes.eval]) assert.equal(outputKeyMessage(name), undefined, `${model}: ${name}`);
  }
});

test("the API and the CLI refuse a bad key with the same one line, naming the key and the fix", () => {
  for (const key of HOSTILE_KEYS) {
    let apiMessage = "";
    assert.throws(
      () => createFeatureExtractor("resnet18", { returnNodes: { conv1: key }, size: 32 }),
      (e: Error) => e instanceof ReturnNodeError && ((apiMessage = e.message), true),
      JSON.stringify(key),
    );
    assert.doesNotMatch(apiMessage, /[\n\r\u2028\u2029]/, "one line");
    assert.match(apiMessage, /^output key ".*" .*; give the node a key of letters, digits/);
    assert.ok(apiMessage.includes(JSON.stringify(key.slice(0, 60)).slice(1, -1)), `names the key: ${apiMessage}`);
    if (key.includes(",") || key.includes(":") || key.trim() !== key || key === "") continue; // the CLI's syntax reads these otherwise
    assert.throws(
      () => parseReturnSpec(`conv1:${key}`),
      (e: Error) => e instanceof UsageError && e.message === apiMessage,
      `the CLI says what the API says for ${JSON.stringify(key)}`,
    );
  }
  // A node name is its own key when not renamed: the same rule applies to it.
  assert.throws(() => createFeatureExtractor("resnet18", { returnNodes: ["__proto__"], size: 32 }), /output key "__proto__" is a name every JavaScript object already has/);
  assert.throws(() => parseReturnSpec("__proto__"), /output key "__proto__" is a name every JavaScript object already has/);
  // The CLI's map of renamed nodes is built with own properties: a node named like a prototype property is not "listed twice".
  assert.deepEqual(parseReturnSpec("constructor:a,layer1:b"), { constructor: "a", layer1: "b" });
});

test("keys may start with a digit (torchvision's FPN levels are '0', '1', ...) unless a result object would reorder them", () => {
  const fx = createFeatureExtractor("resnet18", { returnNodes: { layer1: "0", layer2: "1", layer3: "1st" }, size: 64 });
  assert.deepEqual(Object.keys(fx.returnNodes), ["0", "1", "1st"]);
  // layer1 runs first, but JavaScript would list "2" before "10".
  assert.throws(
    () => createFeatureExtractor("resnet18", { returnNodes: { layer1: "10", layer2: "2" }, size: 64 }),
    (e: Error) => e instanceof ReturnNodeError && /^output key '2' would come back before '10', out of execution order .*; number the keys in execution order or start them with a letter$/.test(e.message),
  );
  assert.throws(() => createFeatureExtractor("resnet18", { returnNodes: { layer1: "a", layer2: "0" }, size: 64 }), /output key '0' would come back before 'a'/);
});

test("a key that would inject code is refused before anything is compiled or run", async () => {
  const dir = await tempDir("names");
  const marker = join(dir, "injected");
  const input = await readNpy(join(RESNET18_CASE, "input.npy"));
  const { writeNpy } = await import("../../runtime/io/npy.js");
  const x = join(dir, "x.npy");
  await writeNpy(x, input.shape, input.data);
  const hostile = `conv1:a\n${injectedCode(marker)}`;
  const extract = await fxc(["extract", "resnet18", "--layout", "nchw", "--return", hostile, "--weights", RESNET18_WEIGHTS, "--input", x, "--out", join(dir, "f.safetensors")], { env: { FXC_CACHE_DIR: join(dir, "cache") } });
  assertOneLineError(extract, /^fxc: output key "a\\nimport\(.*" may hold only letters, digits/, { code: 2 });
  const compiled = await fxc(["compile", "resnet18", "--size", "32", "--return", hostile, "--out", join(dir, "generated")]);
  assertOneLineError(compiled, /^fxc: output key "a\\nimport\(/, { code: 2 });
  assert.equal(existsSync(marker), false, "the injected line never ran");
  assert.deepEqual((await readdir(dir)).sort(), ["x.npy"], "nothing was written");
  // An index file's metadata names its return spec: a key planted there meets the same rule before `fxc nearest` compiles it.
  const key = `a\n${injectedCode(marker)}`;
  const recipe = indexRecipe({ key, paths: [], data: new Float32Array(0), dim: 0, metadata: { model: "resnet18", return: `conv1:${key}`, preprocessing: "{}" } }, "index.safetensors");
  await assert.rejects(compile("resnet18", { returnNodes: recipe.returnNodes, size: 32 }), (e: Error) => e instanceof ReturnNodeError && /^output key "a\\nimport\(/.test(e.message));
});

test("--name with a newline or a quote is refused; the API's name likewise", async () => {
  const dir = await tempDir("names");
  const marker = join(dir, "injected");
  for (const name of [`a\n${injectedCode(marker)}`, 'r18"', "r18'x", "_r18", "../r18"]) {
    const r = await fxc(["compile", "resnet18", "--size", "32", "--return", "conv1", "--out", dir, "--name", name]);
    assertOneLineError(r, /^fxc: module name ".*" (may hold only|must start with).*; give a name of letters/, { code: 2 });
    await assert.rejects(compile("resnet18", { returnNodes: ["conv1"], size: 32, name }), (e: Error) => e instanceof OptionsError && e.message === r.stderr.trim().slice("fxc: ".length));
  }
  assert.deepEqual(await readdir(dir), [], "nothing was written");
});

test("--out and the API's command, whatever they hold, stay inside the header comment", async () => {
  const dir = await tempDir("names");
  const marker = join(dir, "injected");
  const out = join(dir, `o'ut\n${injectedCode(marker)}*/`); // the marker's path makes it nested folders: fxc creates them
  const r = await fxc(["compile", "resnet18", "--size", "32", "--return", "conv1", "--out", out]);
  assert.equal(r.code, 0, r.stderr);
  const source = await readFile(join(out, "resnet18.ts"), "utf8");
  const [first, second, third] = source.split("\n");
  assert.match(first!, /^\/\/ Generated by fxc /);
  // The header still says how to regenerate the file, as bash reads it back: $'...' with the newline escaped.
  assert.ok(second!.startsWith(`// Do not edit. Regenerate with: npx fxc compile resnet18 --return conv1 --out $'${dir}/o\\'ut\\u000aimport(`), second);
  assert.equal(third, "", "the header is two lines");
  const viaApi = await compile("resnet18", { returnNodes: ["conv1"], size: 32, command: `fxc compile\n${injectedCode(marker)}\u2028x*/` });
  assert.match(viaApi, /^\/\/ Do not edit\. Regenerate with: fxc compile\\u000aimport\(.*\)\/\/\\u2028x\*\\\/\n\n/m);
  for (const text of [source, viaApi]) {
    const module = await importCompiled<CompiledModule>(text);
    assert.equal(typeof module.load, "function");
  }
  assert.equal(existsSync(marker), false, "the injected line never ran");
});

/** resnet18's maxpool, with its output key replaced behind the key rule's back, to test what the results are made of. */
function programWithKey(key: string): Program {
  const { program } = createFeatureExtractor("resnet18", { returnNodes: { maxpool: "stem" }, size: 32, layout: "nchw" });
  return { ...program, outputs: program.outputs.map((o) => ({ ...o, key })) };
}

test("results are null-prototype objects in both paths, on both engines: no key can vanish or leak a tensor", async () => {
  const program = programWithKey("__proto__");
  const source = await emitModule(program, { model: "resnet18", name: "resnet18", command: "test", fxcVersion: FXC_VERSION, torchvisionVersion: TORCHVISION_VERSION });
  const compiled = await importCompiled<CompiledModule>(source);
  const input = await readNpy(join(RESNET18_CASE, "input.npy"));
  for (const engine of ["tfjs", "onnxruntime"] as const) {
    const fromCode = await compiled.load(RESNET18_WEIGHTS, { engine });
    const fromGraph = await createExtractor({ checkpoint: program.checkpoint, parameters: program.params, inputShape: inputShapeFor(program), forward: interpret(program) }, RESNET18_WEIGHTS, { engine });
    // After load, which sets the tfjs backend up.
    const x = tf.tensor4d(input.data, input.shape as [number, number, number, number]);
    try {
      for (const [path, extractor] of [
        [`generated module on ${engine}`, fromCode],
        [`interpreter on ${engine}`, fromGraph],
      ] as const) {
        const before = tf.memory().numTensors;
        for (let i = 0; i < 5; i++) {
          const features = (await extractor.run(x)) as Record<string, Tensor>;
          assert.equal(Object.getPrototypeOf(features), null, `${path}: a null-prototype object`);
          assert.deepEqual(Object.keys(features), ["__proto__"], `${path}: the key is an own property`);
          assert.deepEqual(features["__proto__"]!.shape, [2, 64, 8, 8], path);
          tf.dispose(Object.values(features));
        }
        assert.equal(tf.memory().numTensors, before, `${path}: no tensor leaks`);
      }
    } finally {
      x.dispose();
      fromCode.dispose();
      fromGraph.dispose();
    }
  }
});

test("--format npy: a key that climbs out of --out is refused, and the feature store refuses such a file name itself", async () => {
  const dir = await tempDir("names");
  const out = join(dir, "a", "b", "out");
  const r = await fxc(["extract", "resnet18", "--return", "maxpool:../../escaped", "--weights", RESNET18_WEIGHTS, "--input", GALLERY, "--format", "npy", "--out", out]);
  assertOneLineError(r, /^fxc: output key "\.\.\/\.\.\/escaped" may hold only letters/, { code: 2 });
  assert.deepEqual(await readdir(dir), [], "nothing was written");
  for (const key of ["../../escaped", "a/b", "..", "/tmp/abs"]) {
    const writer = await FeatureWriter.open({ out, format: "npy" });
    await assert.rejects(
      writer.append({ paths: ["p"], tensors: { [key]: { shape: [1, 2], data: new Float32Array(2) } } }),
      (e: Error) => e instanceof RangeError && e.message.includes(`'${key}' would be written outside ${out}`),
      key,
    );
    await writer.abort();
  }
  assert.deepEqual(await readdir(dir), ["a"]);
  assert.deepEqual(await readdir(join(dir, "a")), ["b"]);
  assert.deepEqual(await readdir(join(dir, "a", "b")), ["out"]);
  assert.deepEqual(await readdir(out), [], "no file, no spool left");
});
