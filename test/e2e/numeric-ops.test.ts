import { test } from "node:test";
import assert from "node:assert/strict";
import {
  AdaptiveAvgPool2d,
  AdaptiveMaxPool2d,
  AvgPool2d,
  Conv2d,
  Conv2dNormActivation,
  F,
  GELU,
  Hardsigmoid,
  Hardswish,
  LayerNorm,
  Linear,
  MaxPool2d,
  MLP,
  Module,
  Permute,
  ReLU6,
  SqueezeExcitation,
  StochasticDepth,
  Parameter,
  type Tensor,
} from "../../models/nn/index.js";
import { getGraphNodeNames } from "../../compiler/api.js";
import { fixtureCases, testFixtureCases } from "../support/fixtures.js";

/** The TypeScript twin of OpsProbe in test/fixtures/families/ops.py. */
class OpsProbe extends Module {
  stem = new Conv2dNormActivation(3, 8, { kernelSize: 3, stride: 2, activationLayer: (inplace) => new Hardswish(inplace) });
  dw = new Conv2dNormActivation(8, 8, { kernelSize: 5, groups: 8, activationLayer: (inplace) => new ReLU6(inplace) });
  se = new SqueezeExcitation(8, 4, undefined, () => new Hardsigmoid());
  grouped = new Conv2d(8, 12, 3, { padding: [1, 2], groups: 4 });
  pool_ceil = new MaxPool2d(3, { stride: 2, ceilMode: true });
  avg_ceil = new AvgPool2d(3, { stride: 2, padding: 1, ceilMode: true });
  avg_exclude = new AvgPool2d(2, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false });
  adaptive = new AdaptiveAvgPool2d([3, 2]);
  adaptive_max = new AdaptiveMaxPool2d([2, 3]);
  to_last = new Permute([0, 2, 3, 1]);
  norm = new LayerNorm(12);
  mlp = new MLP(12, [24, 12], { activationLayer: () => new GELU(), inplace: null });
  drop_path = new StochasticDepth(0.2, "row");
  to_first = new Permute([0, 3, 1, 2]);
  head = new Linear(12 * 3 * 2, 5);

  forward(x: Tensor): Tensor[] {
    x = this.stem.call(x);
    x = this.dw.call(x);
    x = this.se.call(x);
    const [b, c, h, w] = [x.size(0), x.size(1), x.size(2), x.size(3)];
    x = x.view(b, 2, F.floordiv(c, 2), h, w);
    x = F.transpose(x, 1, 2).contiguous();
    x = x.view(b, -1, h, w);
    const [left, right] = x.chunk(2, 1);
    x = F.cat([right!, F.silu(left!)], 1);
    x = this.grouped.call(x);
    const p1 = this.pool_ceil.call(x);
    const p2 = this.avg_ceil.call(x);
    const p3 = this.avg_exclude.call(x);
    let y = this.to_last.call(p2);
    y = F.add(y, this.drop_path.call(this.mlp.call(this.norm.call(y))));
    y = this.to_first.call(y);
    y = F.add(F.mul(F.gelu(y), 0.5), p1.mean([2, 3], true));
    const z = this.adaptive.call(y);
    const m = this.adaptive_max.call(p3);
    const s = F.softmax(y, 1);
    const t = y.mean(1);
    const flat = F.flatten(z, 1);
    return [this.head.call(flat), m, s, t];
  }
}

test("OpsProbe traces to torchvision's node names", () => {
  const names = getGraphNodeNames(new OpsProbe(), { size: [23, 19] });
  assert.deepEqual(names.eval, [
    "x", "stem", "dw", "se", "size", "size_1", "size_2", "size_3", "floordiv", "view", "transpose", "contiguous", "view_1",
    "chunk", "getitem", "getitem_1", "silu", "cat", "grouped", "pool_ceil", "avg_ceil", "avg_exclude", "to_last", "norm",
    "mlp", "drop_path", "add", "to_first", "gelu", "mul", "mean", "add_1", "adaptive", "adaptive_max", "softmax", "mean_1",
    "flatten", "head",
  ]);
});

/** The TypeScript twin of IndexProbe in test/fixtures/families/ops.py. */
class IndexProbe extends Module {
  proj = new Conv2d(3, 6, 4, { stride: 4 });
  token = new Parameter([1, 1, 6]);

  forward(x: Tensor): Tensor[] {
    const n = F.getitem(x.shape, 0);
    x = this.proj.call(x);
    x = F.transpose(x.flatten(2), 1, 2);
    x = F.cat([F.expand(this.token, n, -1, -1), x], 1);
    const first = F.getitem(x, [F.slice(), 0]);
    const rest = F.getitem(x, [F.slice(), F.slice(1), F.slice()]);
    const strided = F.getitem(rest, [F.slice(), F.slice(null, null, 2), F.slice(1, 5)]);
    const grid = F.swapaxes(rest, 1, 2).unsqueeze(-1);
    const lifted = F.getitem(first, [F.slice(), null, F.slice()]).squeeze(1);
    return [first, strided, grid, lifted, F.getitem(x, [F.ELLIPSIS, 2])];
  }
}

test("IndexProbe traces to torchvision's node names", () => {
  const names = getGraphNodeNames(new IndexProbe(), { size: [16, 12] });
  assert.deepEqual(names.eval, ["x", "getattr", "getitem", "proj", "flatten", "transpose", "token", "expand", "cat", "getitem_1", "getitem_2", "getitem_3", "swapaxes", "unsqueeze", "getitem_4", "squeeze", "getitem_5"]);
});

// Every op and indexing form against torch.
testFixtureCases(
  fixtureCases((x) => x.id.startsWith("ops_")),
  { ops_probe: () => new OpsProbe(), ops_index: () => new IndexProbe() },
);
