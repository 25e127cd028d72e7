import { Module } from "../nn/module.js";
import { ModuleList } from "../nn/container.js";
import { Conv2d } from "../nn/layers.js";
import { Conv2dNormActivation, type NormFactory } from "../nn/ops.js";
import * as F from "../nn/functional.js";
import type { Tensor } from "../nn/tensor.js";
import type { KeyRename } from "../../runtime/weights/rename.js";

/**
 * torchvision.ops.feature_pyramid_network, module for module: the same attribute names, so
 * the same state_dict keys (`inner_blocks.0.0.weight`, `layer_blocks.3.0.bias`, `extra_blocks.p6.weight`).
 * FeaturePyramidNetwork is a torchvision.ops module, so the tracer keeps it as one node (`fpn`
 * in BackboneWithFPN) whose value is its OrderedDict of levels.
 */

/** torchvision's ExtraFPNBlock: gets the FPN's results, the original features and their names; returns both lists extended. */
export abstract class ExtraFPNBlock extends Module {
  abstract override forward(results: Tensor[], x: Tensor[], names: string[]): [Tensor[], string[]];
}

/** torchvision.ops.FeaturePyramidNetwork: a 1x1 lateral and a 3x3 output convolution per level, top-down nearest upsampling. */
export class FeaturePyramidNetwork extends Module {
  static override readonly leaf = true;
  inner_blocks: ModuleList<Conv2dNormActivation>;
  layer_blocks: ModuleList<Conv2dNormActivation>;
  extra_blocks: ExtraFPNBlock | null;

  constructor(inChannelsList: readonly number[], outChannels: number, extraBlocks: ExtraFPNBlock | null = null, normLayer: NormFactory | null = null) {
    super();
    const inner: Conv2dNormActivation[] = [];
    const layer: Conv2dNormActivation[] = [];
    for (const inChannels of inChannelsList) {
      if (inChannels === 0) throw new Error("in_channels=0 is currently not supported");
      inner.push(new Conv2dNormActivation(inChannels, outChannels, { kernelSize: 1, padding: 0, normLayer, activationLayer: null }));
      layer.push(new Conv2dNormActivation(outChannels, outChannels, { kernelSize: 3, normLayer, activationLayer: null }));
    }
    this.inner_blocks = new ModuleList(inner);
    this.layer_blocks = new ModuleList(layer);
    if (extraBlocks !== null && !(extraBlocks instanceof ExtraFPNBlock)) {
      throw new TypeError(`extra_blocks should be of type ExtraFPNBlock not ${(extraBlocks as object).constructor.name}`);
    }
    this.extra_blocks = extraBlocks;
  }

  /**
   * torchvision's `_load_from_state_dict` (version < 2): before 0.13 each block was a bare Conv2d
   * (`inner_blocks.0.weight`, as in the published COCO detectors' files), now `inner_blocks.0.0.weight`.
   */
  override legacyKeyRenames(): readonly KeyRename[] {
    return [{ pattern: "^((?:inner|layer)_blocks\\.\\d+)\\.(weight|bias)$", replacement: "$1.0.$2" }];
  }

  /** `self.inner_blocks[idx](x)`, a negative index counting from the end. */
  private inner(x: Tensor, idx: number): Tensor {
    const blocks = this.inner_blocks.items;
    return blocks[idx < 0 ? idx + blocks.length : idx]!.call(x);
  }

  private layer(x: Tensor, idx: number): Tensor {
    const blocks = this.layer_blocks.items;
    return blocks[idx < 0 ? idx + blocks.length : idx]!.call(x);
  }

  forward(input: Readonly<Record<string, Tensor>>): Record<string, Tensor> {
    let names = Object.keys(input);
    const x = Object.values(input);

    let lastInner = this.inner(x[x.length - 1]!, -1);
    let results: Tensor[] = [this.layer(lastInner, -1)];
    for (let idx = x.length - 2; idx >= 0; idx--) {
      const innerLateral = this.inner(x[idx]!, idx);
      const featShape = F.getitem(innerLateral.shape, F.slice(-2));
      const innerTopDown = F.interpolate(lastInner, { size: featShape, mode: "nearest" });
      lastInner = F.add(innerLateral, innerTopDown);
      results.unshift(this.layer(lastInner, idx));
    }
    if (this.extra_blocks !== null) [results, names] = this.extra_blocks.call(results, x, names);
    return Object.fromEntries(names.map((name, i) => [name, results[i]!]));
  }
}

/** torchvision's LastLevelMaxPool: `pool`, a 1x1 max pool with stride 2 on the last level. */
export class LastLevelMaxPool extends ExtraFPNBlock {
  forward(x: Tensor[], _y: Tensor[], names: string[]): [Tensor[], string[]] {
    names.push("pool");
    x.push(F.max_pool2d(x[x.length - 1]!, 1, 2, 0));
    return [x, names];
  }
}

/** torchvision's LastLevelP6P7 (RetinaNet): `p6` and `p7`, two stride-2 3x3 convolutions, from P5 when its width is the input's, else from C5. */
export class LastLevelP6P7 extends ExtraFPNBlock {
  p6: Conv2d;
  p7: Conv2d;
  readonly useP5: boolean;

  constructor(inChannels: number, outChannels: number) {
    super();
    this.p6 = new Conv2d(inChannels, outChannels, 3, { stride: 2, padding: 1 });
    this.p7 = new Conv2d(outChannels, outChannels, 3, { stride: 2, padding: 1 });
    this.useP5 = inChannels === outChannels;
  }

  forward(p: Tensor[], c: Tensor[], names: string[]): [Tensor[], string[]] {
    const [p5, c5] = [p[p.length - 1]!, c[c.length - 1]!];
    const x = this.useP5 ? p5 : c5;
    const p6 = this.p6.call(x);
    const p7 = this.p7.call(F.relu(p6));
    p.push(p6, p7);
    names.push("p6", "p7");
    return [p, names];
  }
}
