import { AdaptiveAvgPool2d, Conv2d, Dropout, MaxPool2d, Module, ReLU, Sequential, F, type Tensor } from "../nn/index.js";
import { imagenetPreset, zooFamily, registerModels } from "./entry.js";

/** torchvision.models.squeezenet, module for module: same attribute names, same forward order. */

export class Fire extends Module {
  squeeze: Conv2d;
  squeeze_activation: ReLU;
  expand1x1: Conv2d;
  expand1x1_activation: ReLU;
  expand3x3: Conv2d;
  expand3x3_activation: ReLU;

  constructor(
    readonly inplanes: number,
    squeezePlanes: number,
    expand1x1Planes: number,
    expand3x3Planes: number,
  ) {
    super();
    this.squeeze = new Conv2d(inplanes, squeezePlanes, 1);
    this.squeeze_activation = new ReLU(true);
    this.expand1x1 = new Conv2d(squeezePlanes, expand1x1Planes, 1);
    this.expand1x1_activation = new ReLU(true);
    this.expand3x3 = new Conv2d(squeezePlanes, expand3x3Planes, 3, { padding: 1 });
    this.expand3x3_activation = new ReLU(true);
  }

  forward(x: Tensor): Tensor {
    x = this.squeeze_activation.call(this.squeeze.call(x));
    return F.cat([this.expand1x1_activation.call(this.expand1x1.call(x)), this.expand3x3_activation.call(this.expand3x3.call(x))], 1);
  }
}

export interface SqueezeNetOptions {
  numClasses?: number;
  dropout?: number;
}

export class SqueezeNet extends Module {
  features: Sequential;
  classifier: Sequential;
  readonly numClasses: number;

  constructor(version: "1_0" | "1_1" = "1_0", { numClasses = 1000, dropout = 0.5 }: SqueezeNetOptions = {}) {
    super();
    this.numClasses = numClasses;
    const pool = (): MaxPool2d => new MaxPool2d(3, { stride: 2, ceilMode: true });
    if (version === "1_0") {
      this.features = new Sequential(
        new Conv2d(3, 96, 7, { stride: 2 }),
        new ReLU(true),
        pool(),
        new Fire(96, 16, 64, 64),
        new Fire(128, 16, 64, 64),
        new Fire(128, 32, 128, 128),
        pool(),
        new Fire(256, 32, 128, 128),
        new Fire(256, 48, 192, 192),
        new Fire(384, 48, 192, 192),
        new Fire(384, 64, 256, 256),
        pool(),
        new Fire(512, 64, 256, 256),
      );
    } else if (version === "1_1") {
      this.features = new Sequential(
        new Conv2d(3, 64, 3, { stride: 2 }),
        new ReLU(true),
        pool(),
        new Fire(64, 16, 64, 64),
        new Fire(128, 16, 64, 64),
        pool(),
        new Fire(128, 32, 128, 128),
        new Fire(256, 32, 128, 128),
        pool(),
        new Fire(256, 48, 192, 192),
        new Fire(384, 48, 192, 192),
        new Fire(384, 64, 256, 256),
        new Fire(512, 64, 256, 256),
      );
    } else {
      throw new Error(`Unsupported SqueezeNet version ${String(version)}: 1_0 or 1_1 expected`);
    }
    const finalConv = new Conv2d(512, numClasses, 1);
    this.classifier = new Sequential(new Dropout(dropout), finalConv, new ReLU(true), new AdaptiveAvgPool2d([1, 1]));
  }

  forward(x: Tensor): Tensor {
    x = this.features.call(x);
    x = this.classifier.call(x);
    return F.flatten(x, 1);
  }
}

export const squeezenet1_0 = (options: SqueezeNetOptions = {}): SqueezeNet => new SqueezeNet("1_0", options);
export const squeezenet1_1 = (options: SqueezeNetOptions = {}): SqueezeNet => new SqueezeNet("1_1", options);

// The zoo's entries: this family registers its builders as torchvision's @register_model() does.
const entry = zooFamily("SqueezeNet", { minSize: 21, preset: imagenetPreset(224, 256) });

registerModels(entry("squeezenet1_0", squeezenet1_0), entry("squeezenet1_1", squeezenet1_1, { minSize: 17 }));
