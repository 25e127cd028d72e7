import { test } from "node:test";
import assert from "node:assert/strict";
import { AvgPool2d, MaxPool2d, Module, type Tensor } from "../../models/nn/index.js";
import { fixtureCases, testFixtureCases, type Factories } from "../support/fixtures.js";

/**
 * Cases a new engine must get right that the other families did not catch (issue #10), run on
 * every engine: conv1 returned (eval-mode batch-norm folding must not fold it away), a block's
 * convolution or its residual add returned (the residual fusion must keep them), ceil_mode
 * pooling with padding, batch-norm folding with running variances near eps, dotted queries as keys.
 */

/** The TypeScript twin of CeilPaddedPools in test/fixtures/families/engines.py. */
class CeilPaddedPools extends Module {
  maxpool = new MaxPool2d(2, { stride: 2, padding: 1, ceilMode: true });
  avgpool = new AvgPool2d(2, { stride: 2, padding: 1, ceilMode: true });

  forward(x: Tensor): Tensor {
    return this.maxpool.call(x).add(this.avgpool.call(x));
  }
}

const factories: Factories = { ceil_padded_pools: () => new CeilPaddedPools() };
const cases = fixtureCases((c) => c.id.startsWith("engines_"));

test("the engine fixtures are present, with torch's 6x6 for ceil_mode pooling on 11x11", () => {
  assert.deepEqual(
    cases.map((c) => c.id),
    ["engines_resnet18_conv1", "engines_resnet18_residual", "engines_pool_ceil_pad", "engines_bn_tiny_variance"],
  );
  assert.deepEqual(cases[2]!.outputs.maxpool, [2, 3, 6, 6]);
});

testFixtureCases(cases, factories);
