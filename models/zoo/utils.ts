/** Helpers of torchvision.models._utils that several families share. */
import { Module } from "../nn/module.js";
import type { Tensor } from "../nn/tensor.js";

/** torchvision's `_make_divisible`: `v` rounded to a multiple of `divisor`, never more than 10% below `v`. */
export function makeDivisible(v: number, divisor: number, minValue: number | null = null): number {
  const min = minValue ?? divisor;
  let newV = Math.max(min, Math.floor(Math.trunc(v + divisor / 2) / divisor) * divisor);
  if (newV < 0.9 * v) newV += divisor;
  return newV;
}

/**
 * torchvision's `IntermediateLayerGetter`: the model's direct children up to the last one asked
 * for, run in registration order, returning the asked-for children's outputs under new names.
 * Like torchvision's it is not a leaf: tracing goes through it, so nodes keep the children's
 * paths under it (`body.layer1.0.conv1`); its result is a plain dict of traced values.
 */
export class IntermediateLayerGetter extends Module {
  /** `{ child name: output name }`; a plain object, so not a child. */
  readonly returnLayers: Readonly<Record<string, string>>;

  constructor(model: Module, returnLayers: Readonly<Record<string, string>>) {
    super();
    const children = model.namedChildren();
    if (!Object.keys(returnLayers).every((k) => children.some(([name]) => name === k))) throw new Error("return_layers are not present in model");
    const remaining = new Set(Object.keys(returnLayers));
    for (const [name, child] of children) {
      (this as unknown as Record<string, Module>)[name] = child;
      remaining.delete(name);
      if (remaining.size === 0) break;
    }
    this.returnLayers = { ...returnLayers };
  }

  forward(x: Tensor): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [name, module] of this.namedChildren()) {
      x = module.call(x as never) as Tensor;
      const outName = this.returnLayers[name];
      if (outName !== undefined) out[outName] = x;
    }
    return out;
  }
}
