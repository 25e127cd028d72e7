import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import {
  BackboneWithFPN,
  Conv2d,
  FeaturePyramidNetwork,
  IntermediateLayerGetter,
  LastLevelMaxPool,
  LastLevelP6P7,
  MobilenetFeatures,
  mobilenetBackbone,
  resnetFpnBackbone,
  F,
  Module,
  type Tensor,
} from "../../models/index.js";
import { createFeatureExtractor, getGraphNodeNames } from "../../compiler/api.js";
import { resnet18 } from "../../models/zoo/resnet.js";
import { FIXTURES } from "../support/fixtures.js";

interface Facts {
  readonly nodes: { readonly train: string[]; readonly eval: string[] };
  readonly stateDict: [string, number[]][];
  readonly frozen: string[];
  readonly outputs: Record<string, number[]>;
}

/** torchvision's facts, from test/fixtures/make_detection_facts.py. */
const FACTS = JSON.parse(gunzipSync(readFileSync(join(FIXTURES, "detection_facts.json.gz"))).toString("utf8")) as Record<string, Facts> & {
  fasterrcnn_resnet50_fpn: { stateDict: [string, number[]][] };
};

/** The same configurations as make_detection_facts.py's CONFIGS. */
const CONFIGS: Record<string, () => Module> = {
  resnet18_fpn: () => resnetFpnBackbone({ backboneName: "resnet18" }),
  resnet50_fpn_all_trainable_2_4: () => resnetFpnBackbone({ backboneName: "resnet50", trainableLayers: 5, returnedLayers: [2, 4] }),
  resnet18_fpn_p6p7_from_p5: () => resnetFpnBackbone({ backboneName: "resnet18", trainableLayers: 0, returnedLayers: [2, 3, 4], extraBlocks: new LastLevelP6P7(256, 256) }),
  resnet18_fpn_p6p7_from_c5: () => resnetFpnBackbone({ backboneName: "resnet18", trainableLayers: 1, returnedLayers: [2, 3, 4], extraBlocks: new LastLevelP6P7(512, 256) }),
  mobilenet_v3_large_fpn: () => mobilenetBackbone({ backboneName: "mobilenet_v3_large", fpn: true, trainableLayers: 3 }),
  mobilenet_v3_small_fpn_0_2_4: () => mobilenetBackbone({ backboneName: "mobilenet_v3_small", fpn: true, trainableLayers: 0, returnedLayers: [0, 2, 4] }),
  mobilenet_v2_fpn: () => mobilenetBackbone({ backboneName: "mobilenet_v2", fpn: true, trainableLayers: 6 }),
  mobilenet_v2_plain: () => mobilenetBackbone({ backboneName: "mobilenet_v2", fpn: false }),
};

// The whole detectors' layouts (*_builder, *_coco) are test/unit/detection-models.test.ts's.
test("every configuration of make_detection_facts.py is built here", () => {
  assert.deepEqual(Object.keys(CONFIGS).sort(), Object.keys(FACTS).filter((k) => k !== "fasterrcnn_resnet50_fpn" && k !== "resnet50_with_fpn" && !/_(builder|coco)$/.test(k)).sort());
});

for (const [id, build] of Object.entries(CONFIGS)) {
  test(`${id}: node names, state_dict, frozen parameters and output shapes equal torchvision's`, () => {
    const facts = FACTS[id]!;
    const model = build();
    const names = getGraphNodeNames(model, { size: [64, 64] });
    // torch.fx names the input after forward's parameter: nn.Sequential's is `input`; fxc's placeholder is always `x`.
    const placeholder = (list: readonly string[]): string[] => (model instanceof MobilenetFeatures ? ["input", ...list.slice(1)] : [...list]);
    assert.deepEqual(placeholder(names.eval), facts.nodes.eval, "eval node names");
    assert.deepEqual(placeholder(names.train), facts.nodes.train, "train node names");
    assert.deepEqual(model.stateDictShapes(), facts.stateDict, "state_dict keys and shapes");
    const frozen = model.namedParameters().filter(([, p]) => !p.requiresGrad).map(([name]) => name);
    assert.deepEqual(frozen, facts.frozen, "parameters with requires_grad False");
    const last = facts.nodes.eval[facts.nodes.eval.length - 1]!;
    const fx = createFeatureExtractor(model, { returnNodes: { [last]: "out" }, size: [64, 64] });
    const shapes = Object.fromEntries(fx.program.outputs.map((o) => [o.key, o.value.kind === "tensor" ? o.value.shape.map((d) => (d === "N" ? 1 : d)) : []]));
    // A dict comes back one tensor per entry, as out.<entry>; torchvision's model gives the dict.
    const expected = Object.fromEntries(Object.entries(facts.outputs).map(([k, s]) => [k === "" ? "out" : `out.${k}`, s]));
    assert.deepEqual(shapes, expected, "output shapes at 64x64");
  });
}

test("fasterrcnn_resnet50_fpn's backbone. keys and shapes are resnetFpnBackbone('resnet50')'s state_dict", () => {
  const model = resnetFpnBackbone({ backboneName: "resnet50" });
  const ours = model.stateDictShapes().map(([k, s]) => [`backbone.${k}`, [...s]]);
  assert.deepEqual(ours, FACTS.fasterrcnn_resnet50_fpn.stateDict);
});

test("resnet and mobilenet backbones refuse what torchvision refuses, in its words, in one line", () => {
  const refuses = (make: () => unknown, pattern: RegExp): void => assert.throws(make, (e: Error) => pattern.test(e.message) && !e.message.includes("\n"));
  refuses(() => resnetFpnBackbone({ backboneName: "resnet18", trainableLayers: 6 }), /^Trainable layers should be in the range \[0,5\], got 6$/);
  refuses(() => resnetFpnBackbone({ backboneName: "resnet18", trainableLayers: -1 }), /^Trainable layers should be in the range \[0,5\], got -1$/);
  refuses(() => resnetFpnBackbone({ backboneName: "resnet18", returnedLayers: [0, 2] }), /^Each returned layer should be in the range \[1,4\]\. Got \[0, 2\]$/);
  refuses(() => resnetFpnBackbone({ backboneName: "resnet18", returnedLayers: [2, 5] }), /^Each returned layer should be in the range \[1,4\]\. Got \[2, 5\]$/);
  refuses(() => resnetFpnBackbone({ backboneName: "resnet19" }), /^unknown resnet backbone 'resnet19'.*; use one of resnet18, /);
  refuses(() => mobilenetBackbone({ backboneName: "mobilenet_v3_large", fpn: true, trainableLayers: 7 }), /^Trainable layers should be in the range \[0,6\], got 7$/);
  refuses(() => mobilenetBackbone({ backboneName: "mobilenet_v3_large", fpn: true, returnedLayers: [3, 6] }), /^Each returned layer should be in the range \[0,5\], got \[3, 6\]$/);
  refuses(() => mobilenetBackbone({ backboneName: "mobilenet_v4", fpn: true }), /^unknown mobilenet backbone 'mobilenet_v4'/);
  // outChannels is fxc's addition (torchvision fixes 256).
  refuses(() => resnetFpnBackbone({ backboneName: "resnet18", outChannels: 0 }), /^outChannels should be a positive integer \(the FPN's width; torchvision's is 256\), got 0$/);
  refuses(() => mobilenetBackbone({ backboneName: "mobilenet_v3_small", fpn: false, outChannels: 2.5 }), /^outChannels should be a positive integer .*, got 2\.5$/);
  refuses(() => new IntermediateLayerGetter(resnet18(), { layer5: "x" }), /^return_layers are not present in model$/);
  refuses(() => new FeaturePyramidNetwork([64, 0], 32), /^in_channels=0 is currently not supported$/);
  refuses(() => new FeaturePyramidNetwork([64], 32, new Conv2d(1, 1, 1) as unknown as LastLevelMaxPool), /^extra_blocks should be of type ExtraFPNBlock not Conv2d$/);
});

test("the module classes are torchvision's", () => {
  assert.ok(resnetFpnBackbone({ backboneName: "resnet18" }) instanceof BackboneWithFPN);
  assert.ok(mobilenetBackbone({ backboneName: "mobilenet_v2", fpn: false }) instanceof MobilenetFeatures);
  assert.equal(resnetFpnBackbone({ backboneName: "resnet18" }).outChannels, 256);
});

/** Reads two levels of an FPN's result by key; torchvision: ['x', 'a', 'b', 'fpn', 'getitem', 'head', 'getitem_1', 'mul']. */
class FpnReader extends Module {
  a = new Conv2d(3, 4, 3, { stride: 2 });
  b = new Conv2d(4, 8, 3, { stride: 2 });
  fpn = new FeaturePyramidNetwork([4, 8], 6, new LastLevelMaxPool());
  head = new Conv2d(6, 2, 1);
  constructor(private readonly key = "pool") {
    super();
  }
  forward(x: Tensor): Tensor[] {
    const a = this.a.call(x);
    const b = this.b.call(a);
    const feats = this.fpn.call({ p3: a, p4: b });
    // F.getitem is the explicit form of feats[key]; a key the dict lacks is torch's KeyError.
    return [this.head.call(feats.p3!), F.mul(F.getitem(feats, this.key), 2)];
  }
}

test("indexing an FPN's result by key records torch.fx's getitem, and lists its keys", () => {
  assert.deepEqual(getGraphNodeNames(new FpnReader(), { size: 33 }).eval, ["x", "a", "b", "fpn", "getitem", "head", "getitem_1", "mul"]);
  const fx = createFeatureExtractor(new FpnReader(), { returnNodes: ["getitem", "mul"], size: 33, layout: "nchw" });
  assert.deepEqual(
    fx.program.outputs.map((o) => [o.key, o.value.kind === "tensor" ? o.value.shape : []]),
    [["getitem", ["N", 6, 16, 16]], ["mul", ["N", 6, 4, 4]]],
  );
  assert.throws(() => getGraphNodeNames(new FpnReader("p5"), { size: 33 }), /KeyError: 'p5' is not a key of this dict \(its keys: 'p3', 'p4', 'pool'\)/);
});
