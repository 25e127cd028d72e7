import { BackboneWithFPN, LastLevelP6P7, frozenBatchNorm2d, mobilenetBackbone, resnetFpnBackbone } from "../models/index.js";
import { resnet18 } from "../models/zoo/resnet.js";
import { fixtureCases, testFixtureCases } from "./support/fixtures.js";

// FPN levels against torchvision (test/fixtures/families/detection.py), on both engines.
testFixtureCases(
  fixtureCases((c) => c.id.startsWith("detection_")),
  {
    resnet18_fpn: () => new BackboneWithFPN(resnet18({ normLayer: frozenBatchNorm2d }), { layer1: "0", layer2: "1", layer3: "2", layer4: "3" }, [64, 128, 256, 512], 32),
    resnet18_p6p7: () => resnetFpnBackbone({ backboneName: "resnet18", trainableLayers: 1, returnedLayers: [2, 3, 4], extraBlocks: new LastLevelP6P7(512, 256) }),
    mobilenet_v3_small_fpn: () => mobilenetBackbone({ backboneName: "mobilenet_v3_small", fpn: true, trainableLayers: 0, returnedLayers: [1, 2, 4] }),
  },
);
