import { test } from "node:test";
import assert from "node:assert/strict";
import {
  chooseGemmTile,
  chooseSplitK,
  gemmShader,
  gemmShaderKey,
  splitKSlices,
  splitKSumShader,
  splitKSumShaderKey,
  SPLIT_K_MIN_K,
  SPLIT_K_MIN_SLICE,
  SPLIT_K_TARGET_WORKGROUPS,
  type GemmSpec,
} from "../../runtime/webgpu/gemm.js";

/**
 * Split-K in fxc's GEMM without a GPU: when chooseSplitK splits (the layers issue 11 names), and
 * the two programs' sources. Their numerics on lavapipe: test/e2e/webgpu-splitk.test.ts.
 */

/** chooseSplitK for a layer, with the tile runGemm picks for it. */
const splitFor = (m: number, n: number, k: number, batch = 1): number => chooseSplitK(m, n, k, chooseGemmTile(m, n, k), batch);

test("chooseSplitK: resnet50's layer4 and layer3 and vit_b_16's fc2 split at batch 1, not at batch 32; a short K never", () => {
  // Rows are images x output pixels (the convolution's batch is in M); ViT's rows are tokens.
  const table: [string, number, number, number, number, number][] = [
    // name, M, N, K, batch, S
    ["resnet50 layer4 3x3 conv, batch 1 (16 workgroups of 32x64)", 49, 512, 4608, 1, 8],
    ["resnet50 layer4 conv1 1x1 2048 -> 512, batch 1", 49, 512, 2048, 1, 8],
    ["resnet50 layer4.0 downsample 1024 -> 2048, batch 1 (64 workgroups)", 49, 2048, 1024, 1, 2],
    ["resnet50 layer3 3x3 conv, batch 1 (28 workgroups)", 196, 256, 2304, 1, 5],
    ["resnet50 layer4 3x3 conv, batch 32", 32 * 49, 512, 4608, 1, 1],
    ["resnet50 layer3 3x3 conv, batch 32", 32 * 196, 256, 2304, 1, 1],
    ["vit_b_16 fc2 3072 -> 768, batch 1 (84 workgroups)", 197, 768, 3072, 1, 2],
    ["vit_b_16 fc2, batch 32", 32 * 197, 768, 3072, 1, 1],
    ["vit_b_16 fc1 768 -> 3072, batch 1: K too short", 197, 3072, 768, 1, 1],
    ["vit_b_16 out_proj 768 -> 768, batch 1: K too short", 197, 768, 768, 1, 1],
    ["resnet50 fc 2048 -> 1000 on one image (16 workgroups of 4x64)", 1, 1000, 2048, 1, 8],
    ["one workgroup, K just under the minimum", 4, 64, SPLIT_K_MIN_K - 1, 1, 1],
    ["one workgroup, K at the minimum: slices of 256", 4, 64, SPLIT_K_MIN_K, 1, 4],
    ["q @ kT of 12 heads at batch 1 (K = 64)", 197, 197, 64, 12, 1],
  ];
  for (const [name, m, n, k, batch, want] of table) assert.equal(splitFor(m, n, k, batch), want, name);
  // A matmul's batch counts in the workgroups (one 32x64 tile a matrix here).
  assert.equal(splitFor(32, 64, 4096, 1), 16, "one workgroup: 128 slices wanted, 16 slices of 256 allowed");
  assert.equal(splitFor(32, 64, 4096, 16), 8);
  assert.equal(splitFor(32, 64, 4096, 64), 2);
  assert.equal(splitFor(32, 64, 4096, 128), 1, "128 workgroups already");
});

test("chooseSplitK's slices: at least SPLIT_K_MIN_SLICE of K each, none empty, the workgroups under twice the target", () => {
  for (const m of [1, 4, 9, 16, 49, 100, 196, 197, 500]) {
    for (const n of [16, 33, 64, 256, 512, 768, 2048]) {
      for (const k of [1000, 1024, 1030, 2304, 3072, 4608, 25088]) {
        for (const batch of [1, 2, 3]) {
          const tile = chooseGemmTile(m, n, k);
          const s = chooseSplitK(m, n, k, tile, batch);
          const workgroups = Math.ceil(m / tile.bm) * Math.ceil(n / tile.bn) * batch;
          const where = `M ${m}, N ${n}, K ${k}, batch ${batch}: S ${s}`;
          if (workgroups >= SPLIT_K_TARGET_WORKGROUPS || k < SPLIT_K_MIN_K) {
            assert.equal(s, 1, where);
            continue;
          }
          assert.ok(s >= 2, where);
          const { slices, tilesPerSlice } = splitKSlices(k, tile.bk, s);
          assert.equal(slices, s, `${where}: no empty slice`);
          assert.ok(tilesPerSlice * tile.bk >= SPLIT_K_MIN_SLICE, `${where}: ${tilesPerSlice} tiles a slice`);
          assert.ok((s - 1) * tilesPerSlice < Math.ceil(k / tile.bk), `${where}: the last slice has a tile`);
          assert.ok(s * workgroups < 2 * SPLIT_K_TARGET_WORKGROUPS, `${where}: ${s * workgroups} workgroups`);
        }
      }
    }
  }
});

const spec = (overrides: Partial<GemmSpec>): GemmSpec => ({
  k: 4608,
  n: 512,
  loader: { kind: "matrix" },
  aBatched: true,
  bBatched: false,
  bias: true,
  addend: true,
  activation: "relu",
  tile: chooseGemmTile(49, 512, 4608),
  precision: "f32",
  ...overrides,
});

test("S = 1 is the one-pass product as it was: the same source and key with splitK 1 or absent", () => {
  const { splitK: _, ...absent } = spec({ splitK: 1 });
  assert.equal(gemmShader(spec({ splitK: 1 })), gemmShader(absent));
  assert.equal(gemmShaderKey(spec({ splitK: 1 })), gemmShaderKey(absent));
  assert.doesNotMatch(gemmShaderKey(absent), /split/);
});

test("a split's slices: batch and slice from z, each walking its own K tiles, raw sums stored without the epilogue", () => {
  const source = gemmShader(spec({ splitK: 8 }));
  assert.match(gemmShaderKey(spec({ splitK: 8 })), /_split8$/);
  assert.match(source, /let batch = i32\(workgroupId\.z\) \/ 8;/);
  assert.match(source, /let firstTile = \(i32\(workgroupId\.z\) % 8\) \* 36;/, "288 K tiles in 8 slices of 36");
  assert.match(source, /let outBase = i32\(workgroupId\.z\) \* M \* N;/, "slice s of batch entry b at b * S + s");
  assert.match(source, /for \(var t = 0; t < 36; /, "a constant trip count (the barriers stay in uniform control flow)");
  assert.match(source, /let k = \(firstTile \+ t \+ 1\) \* 16 \+ kk;/);
  assert.match(source, /let k = \(firstTile\) \* 16 \+ kk;/);
  assert.ok(!source.includes("k < K"), "slices of whole tiles ending at K: no K check");
  assert.ok(!source.includes("Bias") && !source.includes("Addend") && !source.includes("max(value"), "no epilogue in the slices");
  assert.match(source, /result\[\(outBase \+ row \* N \+ col\) \/ 4\] = value;/);
  // 288 tiles in 5 slices: 58 each, the last 56, its 2 past K's end read as zeros.
  const uneven = gemmShader(spec({ splitK: 5 }));
  assert.match(uneven, /for \(var t = 0; t < 58; /);
  assert.match(uneven, /row < M && k < K/, "tiles past K's end are checked");
  // The layer-norm prologue still takes its statistics over the whole row.
  const ln = gemmShader(spec({ bias: false, addend: false, activation: undefined, layerNorm: { eps: 1e-6, gamma: true, beta: true }, splitK: 4 }));
  assert.match(ln, /for \(var q = statPart; q < 1152; /, "4608 / 4 vec4s of the row");
  assert.ok(ln.indexOf("rowRstd[statLocal] =") < ln.indexOf("let k = (firstTile)"));
  assert.match(gemmShaderKey(spec({ precision: "f16", splitK: 3 })), /_f16_split3$/);
  assert.throws(() => gemmShader(spec({ splitK: 0 })), /internal: gemm split-K 0/);
});

test("split-K's sum: the slices added in a fixed order, then the one-pass epilogue and store", () => {
  const source = splitKSumShader(spec({ splitK: 8 }));
  assert.match(source, /let rowStart = \(batch \* 8 \* M \+ row\) \* N;/);
  assert.match(source, /var value = Partials\[\(rowStart \+ col\) \/ 4\];\s*for \(var s = 1; s < 8; s = s \+ 1\) \{\s*value = value \+ Partials\[\(rowStart \+ s \* M \* N \+ col\) \/ 4\];/);
  // The same epilogue text as the one-pass GEMM's.
  const onePass = gemmShader(spec({}));
  for (const line of ["value = value + Bias[col / 4];", "value = value + Addend[(outBase + row * N + col) / 4];", "value = max(value, vec4<f32>(0.0));", "result[(outBase + row * N + col) / 4] = value;"]) {
    assert.ok(source.includes(line) && onePass.includes(line), line);
  }
  assert.ok(source.indexOf("Bias[") > source.indexOf("for (var s"), "the bias once, after the slices");
  // A width not a multiple of 4: scalar reads clamped to N - 1, stores checked.
  const ragged = splitKSumShader(spec({ n: 33, splitK: 3 }));
  assert.match(ragged, /Partials\[rowStart \+ s \* M \* N \+ min\(col \+ 3, N - 1\)\]/);
  assert.match(ragged, /if \(col \+ 3 < N\) \{ result\[outBase \+ row \* N \+ col \+ 3\] = value\[3\]; \}/);
  assert.match(ragged, /let col = \(index % 9\) \* 4;/, "9 quads of columns a row");
  // The key names what the source depends on: not K, the loader, the tile or the precision.
  assert.equal(splitKSumShaderKey(spec({ splitK: 8 })), "fxcGemmSum_8_512_bias_add_relu");
  assert.equal(splitKSumShaderKey(spec({ splitK: 8, k: 2048, precision: "f16" })), splitKSumShaderKey(spec({ splitK: 8 })));
  assert.notEqual(splitKSumShaderKey(spec({ splitK: 8, activation: "gelu" })), splitKSumShaderKey(spec({ splitK: 8 })));
});
