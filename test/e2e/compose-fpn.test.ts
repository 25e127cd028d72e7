import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { Module, type Tensor } from "../../models/index.js";
import { resnet18, resnet50 } from "../../models/zoo/resnet.js";
import { compile, createFeatureExtractor, getGraphNodeNames } from "../../compiler/api.js";
import { FIXTURES, fixtureCases, testFixtureCases } from "../support/fixtures.js";
import { Resnet50WithFPN } from "../support/factories.js";

const FACTS = JSON.parse(gunzipSync(readFileSync(join(FIXTURES, "detection_facts.json.gz"))).toString("utf8")) as {
  resnet50_with_fpn: { nodes: { train: string[]; eval: string[] }; stateDict: [string, number[]][] };
};

for (const size of [[224, 224], [300, 300], [800, 1216]] as const) {
  test(`Resnet50WithFPN: node names at ${size.join("x")} equal torchvision's (body.layer1.0.conv1, body.add_7, fpn)`, () => {
    const names = getGraphNodeNames(new Resnet50WithFPN(), { size });
    assert.deepEqual(names.eval, FACTS.resnet50_with_fpn.nodes.eval);
    assert.deepEqual(names.train, FACTS.resnet50_with_fpn.nodes.train);
  });
}

test("Resnet50WithFPN's state_dict is torchvision's: the extractor holds only the modules its graph uses (no fc)", () => {
  assert.deepEqual(new Resnet50WithFPN().stateDictShapes(), FACTS.resnet50_with_fpn.stateDict);
});

test("the dry run gives the extractor's output shapes for that input, without weights", () => {
  const body = createFeatureExtractor(resnet50(), { returnNodes: { layer1: "0", layer4: "3" } });
  assert.deepEqual(body.dryRun([2, 3, 224, 224]), { "0": { shape: [2, 256, 56, 56] }, "3": { shape: [2, 2048, 7, 7] } });
  assert.deepEqual(body.dryRun([1, 3, 300, 200]), { "0": { shape: [1, 256, 75, 50] }, "3": { shape: [1, 2048, 10, 7] } });
});

test("an extractor switches graphs with its mode, as torchvision's DualGraphModule", () => {
  class Holder extends Module {
    body = createFeatureExtractor(resnet18(), { returnNodes: ["layer1"] });
    forward(x: Tensor): Record<string, Tensor> {
      return this.body.call(x);
    }
  }
  const holder = new Holder();
  assert.equal(holder.body.training, false, "in the mode option's mode after creation, eval by default");
  holder.train();
  assert.equal(holder.body.training, true, "a holder's train() reaches the extractor");
  assert.equal(holder.body.program.mode, "train", "and what it gives follows");
  holder.eval();
  assert.equal(holder.body.training, false);
  assert.equal(holder.body.program.mode, "eval");
  const names = getGraphNodeNames(holder, { size: 64 });
  assert.deepEqual(names.eval.slice(0, 3), ["x", "body.conv1", "body.bn1"]);
  assert.equal(names.eval[names.eval.length - 1], "body.layer1.1.relu_1");
});

/** FPN_WIDTH in families/detection.py: the numeric cases' FPN is this narrow to keep their fixtures small. */
const FPN_WIDTH = 4;

test("Resnet50WithFPN compiles to one typed module with the FPN's levels", async () => {
  const source = await compile(new Resnet50WithFPN(resnet18, FPN_WIDTH), { returnNodes: ["fpn"], size: [300, 300] });
  for (const key of ["fpn.0", "fpn.1", "fpn.2", "fpn.3", "fpn.pool"]) assert.match(source, new RegExp(`"${key.replace(".", "\\.")}": Tensor4D`));
  assert.match(source, /\[N, ⌈H\/4⌉, ⌈W\/4⌉, 4\] \(\[N, 75, 75, 4\] at 300x300\) NHWC/);
});

// Features against torchvision at 224x224, 300x300 and 800x1216 (resnet18 and a 4-channel FPN: see families/detection.py).
// At 800x1216 the reference holds the coarse levels whole but only every 4th row and column of
// the finest level (200x304 positions, which alone would be most of the fixture; fxc's output is
// strided the same way, see FixtureCase.strided). That level comes from the same lateral
// convolution, top-down upsampling and 3x3 convolution as the levels stored whole, and the
// subsample spans its borders and interior.
testFixtureCases(
  fixtureCases((c) => c.id.startsWith("compose_")),
  { resnet18_with_fpn: () => new Resnet50WithFPN(resnet18, FPN_WIDTH) },
);

test("an extractor whose nodes exist in one mode only says so when traced in the other", () => {
  class Holder extends Module {
    body = createFeatureExtractor("googlenet", { returnNodes: ["aux1"], mode: "train", suppressDiffWarning: true });
    forward(x: Tensor): Record<string, Tensor> {
      return this.body.call(x);
    }
  }
  const holder = new Holder();
  const train = createFeatureExtractor(holder, { returnNodes: ["body"], mode: "train", suppressDiffWarning: true });
  assert.deepEqual(train.returnNodes, { body: "body.aux1.fc2" });
  assert.throws(
    () => createFeatureExtractor(holder, { returnNodes: ["body"], mode: "eval" }),
    (e: Error) => /^this feature extractor has no eval graph: its return nodes are not in the eval graph; give trainReturnNodes and evalReturnNodes$/.test(e.message),
  );
});
