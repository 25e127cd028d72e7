/**
 * Every model family of the zoo. Importing a family's file registers its models (registerModels in
 * models/zoo/entry.ts, as torchvision's `@register_model()`), so a new family is its own file and one
 * line here.
 */
export * as resnet from "./resnet.js";
export * as alexnet from "./alexnet.js";
export * as vgg from "./vgg.js";
export * as squeezenet from "./squeezenet.js";
export * as densenet from "./densenet.js";
export * as googlenet from "./googlenet.js";
export * as inception from "./inception.js";
export * as mobilenetv2 from "./mobilenetv2.js";
export * as mobilenetv3 from "./mobilenetv3.js";
export * as mnasnet from "./mnasnet.js";
export * as shufflenetv2 from "./shufflenetv2.js";
export * as efficientnet from "./efficientnet.js";
export * as regnet from "./regnet.js";
export * as convnext from "./convnext.js";
export * as maxvit from "./maxvit.js";
export * as vit from "./vit.js";
export * as swin from "./swin.js";
