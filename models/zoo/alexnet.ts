import { AdaptiveAvgPool2d, Conv2d, Dropout, Linear, MaxPool2d, Module, ReLU, Sequential, F, type Tensor } from "../nn/index.js";
import { imagenetPreset, zooFamily, registerModels } from "./entry.js";

/** torchvision.models.alexnet, module for module: same attribute names, same forward order. */

export interface AlexNetOptions {
  numClasses?: number;
  dropout?: number;
}

export class AlexNet extends Module {
  features: Sequential;
  avgpool: AdaptiveAvgPool2d;
  classifier: Sequential;

  constructor({ numClasses = 1000, dropout = 0.5 }: AlexNetOptions = {}) {
    super();
    this.features = new Sequential(
      new Conv2d(3, 64, 11, { stride: 4, padding: 2 }),
      new ReLU(true),
      new MaxPool2d(3, { stride: 2 }),
      new Conv2d(64, 192, 5, { padding: 2 }),
      new ReLU(true),
      new MaxPool2d(3, { stride: 2 }),
      new Conv2d(192, 384, 3, { padding: 1 }),
      new ReLU(true),
      new Conv2d(384, 256, 3, { padding: 1 }),
      new ReLU(true),
      new Conv2d(256, 256, 3, { padding: 1 }),
      new ReLU(true),
      new MaxPool2d(3, { stride: 2 }),
    );
    this.avgpool = new AdaptiveAvgPool2d([6, 6]);
    this.classifier = new Sequential(
      new Dropout(dropout),
      new Linear(256 * 6 * 6, 4096),
      new ReLU(true),
      new Dropout(dropout),
      new Linear(4096, 4096),
      new ReLU(true),
      new Linear(4096, numClasses),
    );
  }

  forward(x: Tensor): Tensor {
    x = this.features.call(x);
    x = this.avgpool.call(x);
    x = F.flatten(x, 1);
    return this.classifier.call(x);
  }
}

export const alexnet = (options: AlexNetOptions = {}): AlexNet => new AlexNet(options);

// The zoo's entries: this family registers its builders as torchvision's @register_model() does.
const entry = zooFamily("AlexNet", { minSize: 63, preset: imagenetPreset(224, 256) });

registerModels(entry("alexnet", alexnet));
