import { imagenetPreset, zooFamily, type ModelEntry } from "./entry.js";
import * as v from "./vgg.js";

const entry = zooFamily("VGG", { minSize: 32, preset: imagenetPreset(224, 256) });

export const vggModels: ModelEntry[] = [
  entry("vgg11", v.vgg11),
  entry("vgg11_bn", v.vgg11_bn),
  entry("vgg13", v.vgg13),
  entry("vgg13_bn", v.vgg13_bn),
  entry("vgg16", v.vgg16),
  entry("vgg16_bn", v.vgg16_bn),
  entry("vgg19", v.vgg19),
  entry("vgg19_bn", v.vgg19_bn),
];
