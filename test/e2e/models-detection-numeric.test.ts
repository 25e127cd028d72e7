import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { BackboneWithFPN, Conv2d, LastLevelP6P7, Module, frozenBatchNorm2d, mobilenetBackbone, resnetFpnBackbone, type Tensor } from "../../models/index.js";
import { resnet18 } from "../../models/zoo/resnet.js";
import { createFeatureExtractor } from "../../compiler/api.js";
import { tf } from "../../runtime/index.js";
import { FIXTURES, caseErrors, caseInput, fixtureCases, testFixtureCases, ENGINES_UNDER_TEST } from "../support/fixtures.js";

/** FPN_WIDTH in families/detection.py: the FPNs are this narrow (torchvision's 256) to keep the fixtures small. */
const FPN_WIDTH = 4;

/** The TypeScript twin of FasterRCNNLike in families/detection.py: a detector's checkpoint layout, at the smallest widths. */
class FasterRCNNLike extends Module {
  backbone = resnetFpnBackbone({ backboneName: "resnet18", returnedLayers: [1], outChannels: FPN_WIDTH });
  rpn = new RpnLike();
  forward(x: Tensor): Record<string, Tensor> {
    return this.backbone.call(x);
  }
}
class RpnLike extends Module {
  head = new RpnHeadLike();
  forward(): never {
    throw new Error("not called");
  }
}
class RpnHeadLike extends Module {
  conv = new Conv2d(FPN_WIDTH, FPN_WIDTH, 1);
  forward(x: Tensor): Tensor {
    return this.conv.call(x);
  }
}

// FPN levels against torchvision (test/fixtures/families/detection.py), on both engines.
testFixtureCases(
  fixtureCases((c) => c.id.startsWith("detection_")),
  {
    resnet18_fpn: () => new BackboneWithFPN(resnet18({ normLayer: frozenBatchNorm2d }), { layer1: "0", layer2: "1", layer3: "2", layer4: "3" }, [64, 128, 256, 512], FPN_WIDTH),
    resnet18_p6p7: () =>
      resnetFpnBackbone({ backboneName: "resnet18", trainableLayers: 1, returnedLayers: [2, 3, 4], extraBlocks: new LastLevelP6P7(512, FPN_WIDTH), outChannels: FPN_WIDTH }),
    fasterrcnn_like: () => new FasterRCNNLike(),
    mobilenet_v3_small_fpn: () => mobilenetBackbone({ backboneName: "mobilenet_v3_small", fpn: true, trainableLayers: 0, returnedLayers: [1, 2, 4], outChannels: FPN_WIDTH }),
  },
);

// The user's way: the backbone alone, its weights read from a detector's checkpoint under `backbone.`.
const [detector] = fixtureCases((c) => c.id === "detection_fasterrcnn_layout");
for (const engine of ENGINES_UNDER_TEST) {
  test(`resnetFpnBackbone loads a detector checkpoint with prefix 'backbone.' and gives its FPN levels [${engine}]`, async () => {
    const fx = createFeatureExtractor(resnetFpnBackbone({ backboneName: "resnet18", returnedLayers: [1], outChannels: FPN_WIDTH }), { returnNodes: ["fpn"], size: [64, 96], layout: "nchw" });
    const extractor = await fx.load(join(FIXTURES, "cases", detector!.id, "weights.pth"), { prefix: "backbone.", engine });
    try {
      const x = await caseInput(detector!);
      const out = await extractor.run(x);
      const errors = await caseErrors(detector!, out);
      tf.dispose([x, ...Object.values(out)]);
      assert.deepEqual(Object.keys(errors), ["fpn.0", "fpn.pool"]);
      for (const [key, error] of Object.entries(errors)) assert.ok(error <= 1e-4, `${key}: ${error}`);
    } finally {
      extractor.dispose();
    }
  });
}
