import { test } from "node:test";
import assert from "node:assert/strict";
import { chooseGemmTile, gemmShader, gemmShaderKey, gemmWorkgroupSize, type ConvGeometry, type GemmSpec } from "../../runtime/webgpu/gemm.js";
import { hoistEnableDirectives } from "../../runtime/webgpu/program.js";
import { convGeometry, convLoader, depthwiseShader, depthwiseShaderKey } from "../../runtime/webgpu/ops/conv.js";
import { tf } from "../../runtime/index.js";

/**
 * fxc's GEMM shader generator without a GPU: the tile chosen per layer, and the source
 * specialized to K, N and a convolution's geometry (checks and vector widths only where the shape
 * needs them). The shaders' numerics are checked on lavapipe: test/e2e/webgpu-*.test.ts.
 */

const BIG = { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4 };

function spec(overrides: Partial<GemmSpec>): GemmSpec {
  return { k: 64, n: 64, loader: { kind: "matrix" }, aBatched: false, bBatched: false, bias: false, addend: false, activation: undefined, tile: BIG, precision: "f32", ...overrides };
}

const CONV: ConvGeometry = {
  inHeight: 56,
  inWidth: 56,
  channels: 64,
  kernelHeight: 3,
  kernelWidth: 3,
  strideHeight: 1,
  strideWidth: 1,
  padHeight: 1,
  padWidth: 1,
  dilationHeight: 1,
  dilationWidth: 1,
  outHeight: 56,
  outWidth: 56,
};

test("the tile follows the layer: 64x64 with 4x4 per thread for big layers, narrower for few columns or few rows", () => {
  assert.deepEqual(chooseGemmTile(3136, 64, 576), { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4 }, "resnet's layer1 3x3");
  assert.deepEqual(chooseGemmTile(3136, 32, 576), { bm: 64, bn: 32, bk: 16, tm: 4, tn: 4 }, "N <= 32");
  assert.deepEqual(chooseGemmTile(3136, 10, 576), { bm: 64, bn: 16, bk: 16, tm: 4, tn: 4 }, "N <= 16");
  assert.deepEqual(chooseGemmTile(197, 768, 192), { bm: 32, bn: 64, bk: 16, tm: 2, tn: 4 }, "ViT's tokens at batch 1");
  assert.deepEqual(chooseGemmTile(1, 1000, 512), { bm: 4, bn: 64, bk: 16, tm: 1, tn: 4 }, "one row");
  assert.deepEqual(chooseGemmTile(5, 768, 768), { bm: 8, bn: 64, bk: 16, tm: 1, tn: 4 }, "ViT's 5 tokens at 32x32, batch 1");
  assert.deepEqual(chooseGemmTile(16, 768, 768), { bm: 16, bn: 64, bk: 16, tm: 1, tn: 4 }, "16 rows");
  assert.equal(chooseGemmTile(4096, 64, 3).bk, 8, "K below 16 steps 8 at a time");
  for (const m of [1, 16, 17, 255, 256, 10_000]) {
    for (const n of [1, 16, 17, 32, 33, 4096]) {
      const tile = chooseGemmTile(m, n, 100);
      const [x, y, z] = gemmWorkgroupSize(tile);
      assert.ok(x * y * z <= 256 && x * y * z >= 64, `${m}x${n}: ${x * y * z} threads (WebGPU's default limit is 256)`);
      assert.equal(tile.bm % tile.tm, 0);
      assert.equal(tile.bn % tile.tn, 0);
    }
  }
});

test("aligned shapes: vec4 loads and stores, a constant trip count, and no K or N checks", () => {
  const source = gemmShader(spec({ k: 64, n: 128, bias: true }));
  assert.match(source, /const K : i32 = 64;/);
  assert.match(source, /const N : i32 = 128;/);
  assert.match(source, /for \(var t = 0; t < 4; /, "64 / BK 16");
  assert.match(source, /v = A\[\(aBase \+ row \* K \+ k\) \/ 4\];/, "A read 4 along K");
  assert.match(source, /v = B\[\(bBase \+ k \* N \+ col\) \/ 4\];/, "B read 4 along N");
  assert.match(source, /result\[\(outBase \+ row \* N \+ col\) \/ 4\] = value;/);
  assert.match(source, /Bias\[col \/ 4\]/);
  assert.ok(!/k < K|col < N|col \+ \d < N/.test(source), "no checks on K or N");
  assert.match(source, /row < M/, "M is read at run time: rows are always checked");
  assert.match(source, /let M = uniforms\.outShape\.y;/);
  assert.match(source, /var<workgroup> As : array<array<vec4<f32>, 16>, 16>;/, "4 rows per thread: A's tile read a vec4 of rows per k");
  assert.match(source, /let a = As\[kk\]\[i32\(localId\.y\) \^ \(\(kk\) \/ 4 \* 2\)\];/, "read back through the swizzle it was stored with");
  assert.match(source, /As\[kk \+ 3\]\[\(r \/ 4\) \^ \(\(kk \+ 3\) \/ 4 \* 2\)\]\[r % 4\] = v\.w;/);
  assert.throws(() => gemmShader(spec({ tile: { ...BIG, bk: 32 } })), /internal: gemm tile/);
  // Register prefetch: tile t + 1's global reads are issued before tile t's products.
  const [prefetch, products] = [source.indexOf("if (t + 1 < 4) {"), source.indexOf("for (var kk = 0; kk < 16;")];
  assert.ok(prefetch > 0 && products > prefetch, "the next tile's reads come before the products");
  assert.match(source, /aNext\[i\] = v;/);
  assert.ok(!gemmShader(spec({ k: 16 })).includes("t + 1 <"), "one tile along K: nothing to prefetch");
  const twoRows = gemmShader(spec({ tile: { ...BIG, bm: 32, tm: 2 } }));
  assert.match(twoRows, /var<workgroup> As : array<array<f32, 32>, 16>;/);
  assert.match(twoRows, /As\[kk\]\[\(rowBase \+ i\) \^ \(\(kk\) \/ 4 \* 8\)\]/, "single rows swizzled by BM/4");
  assert.match(twoRows, /As\[kk \+ 2\]\[r \^ \(\(kk \+ 2\) \/ 4 \* 8\)\] = v\.z;/);
});

test("ragged shapes: scalar reads where K or N is not a multiple of 4, and checks on exactly the dims that need them", () => {
  const ragged = gemmShader(spec({ k: 70, n: 33 }));
  assert.match(ragged, /for \(var t = 0; t < 5; /);
  assert.match(ragged, /row < M && k < K/);
  assert.match(ragged, /v = A\[aBase \+ row \* K \+ k\];/, "A read one value at a time");
  assert.match(ragged, /col \+ 3 < N/);
  assert.ok(!ragged.includes(") / 4]"), "no vec4 access");
  // K a multiple of 4 but not of BK: vec4 reads, with a K check; N a multiple of BN: none.
  const kOnly = gemmShader(spec({ k: 36, n: 64 }));
  assert.match(kOnly, /row < M && k < K\) \{ v = A\[\(aBase/);
  assert.ok(!/col < N|col \+ \d < N/.test(kOnly));
  // N a multiple of 4 but not of BN: vec4 stores checked per quad.
  const nOnly = gemmShader(spec({ k: 64, n: 36 }));
  assert.match(nOnly, /if \(col < N\) \{ result\[\(outBase/);
  assert.ok(!nOnly.includes("k < K"));
});

test("implicit im2col: the geometry is written in, and the padding is checked only along an axis that has some", () => {
  const padded = gemmShader(spec({ k: 576, n: 64, loader: { kind: "im2col", conv: CONV } }));
  assert.match(padded, /let image = row \/ 3136;/);
  assert.match(padded, /ih >= 0 && ih < 56 && iw >= 0 && iw < 56/);
  assert.match(padded, /v = A\[\(\(\(image \* 56 \+ ih\) \* 56 \+ iw\) \* 64 \+ channel\) \/ 4\];/, "4 channels at a time");
  const heightOnly = gemmShader(spec({ k: 576, n: 64, loader: { kind: "im2col", conv: { ...CONV, padWidth: 0, outWidth: 54 } } }));
  assert.match(heightOnly, /ih >= 0 && ih < 56/);
  assert.ok(!heightOnly.includes("iw >= 0"));
  const valid = gemmShader(spec({ k: 27, n: 64, loader: { kind: "im2col", conv: { ...CONV, channels: 3, padHeight: 0, padWidth: 0, outHeight: 54, outWidth: 54 } } }));
  assert.ok(!valid.includes("ih >= 0") && !valid.includes("iw >= 0"), "no padding, no checks");
  assert.match(valid, /v = A\[\(\(image \* 56 \+ ih\) \* 56 \+ iw\) \* 3 \+ channel\];/, "3 channels: one value at a time");
});

test("the epilogue: bias, the addend before the activation, relu or relu6", () => {
  const source = gemmShader(spec({ bias: true, addend: true, activation: "relu6" }));
  const [bias, addend, activation] = ["Bias[col / 4]", "Addend[(outBase + row * N + col) / 4]", "clamp(value, vec4<f32>(0.0), vec4<f32>(6.0))"].map((s) => source.indexOf(s));
  assert.ok(bias! > 0 && addend! > bias! && activation! > addend!, "act(product + bias + addend)");
  assert.match(gemmShader(spec({ activation: "relu" })), /value = max\(value, vec4<f32>\(0\.0\)\);/);
  const plain = gemmShader(spec({}));
  assert.ok(!plain.includes("Bias") && !plain.includes("Addend") && !plain.includes("max(value"));
});

test("the shader key changes with every constant that changes the source", () => {
  const variants: GemmSpec[] = [
    spec({}),
    spec({ k: 68 }),
    spec({ n: 60 }),
    spec({ aBatched: true }),
    spec({ bBatched: true }),
    spec({ bias: true }),
    spec({ addend: true }),
    spec({ activation: "relu" }),
    spec({ activation: "relu6" }),
    spec({ tile: { ...BIG, bm: 32, tm: 2 } }),
    spec({ tile: { ...BIG, bk: 8 } }),
    spec({ loader: { kind: "im2col", conv: CONV } }),
    ...(Object.keys(CONV) as (keyof ConvGeometry)[]).map((field) => spec({ loader: { kind: "im2col", conv: { ...CONV, [field]: CONV[field] + 1 } } })),
  ];
  const sources = new Map<string, string>();
  for (const v of variants) {
    const key = gemmShaderKey(v);
    assert.ok(!sources.has(key) || sources.get(key) === gemmShader(v), `key ${key} names two sources`);
    sources.set(key, gemmShader(v));
  }
  assert.equal(sources.size, variants.length);
});

test("a convolution's geometry from its operands, a pointwise one read as a matrix, and what is left to tfjs", () => {
  const x = tf.zeros([2, 15, 15, 6]);
  const w7 = tf.zeros([7, 7, 6, 8]);
  const conv = convGeometry(x, w7, { stride: [2, 2], padding: [3, 3] });
  assert.deepEqual([conv?.outHeight, conv?.outWidth, conv?.kernelHeight, conv?.padWidth, conv?.dilationHeight], [8, 8, 7, 3, 1]);
  const dilated = convGeometry(x, tf.zeros([3, 3, 6, 4]), { stride: [1, 1], padding: [2, 2], dilation: [2, 2] });
  assert.deepEqual([dilated?.outHeight, dilated?.outWidth], [15, 15]);
  const w1 = tf.zeros([1, 1, 6, 4]);
  assert.deepEqual(convLoader(convGeometry(x, w1, { stride: [1, 1], padding: [0, 0] })!), { kind: "matrix" });
  assert.equal(convLoader(convGeometry(x, w1, { stride: [2, 2], padding: [0, 0] })!).kind, "im2col", "a strided 1x1 skips pixels");
  assert.equal(convGeometry(x, tf.zeros([3, 3, 5, 4]), { stride: [1, 1], padding: [1, 1] }), undefined, "channels disagree");
  assert.equal(convGeometry(tf.zeros([1, 2, 2, 6]), tf.zeros([3, 3, 6, 4]), { stride: [1, 1], padding: [0, 0] }), undefined, "no output pixel");
});

test("the depthwise kernel: taps unrolled with the geometry written in, 4 channels a thread where C allows, padding checked only where there is some", () => {
  const source = depthwiseShader(CONV, true, "relu6");
  assert.equal(source.match(/acc = fma\(/g)?.length, 9, "3x3 taps, unrolled");
  assert.match(source, /let lane = index % 16;/, "64 channels as 16 vec4s");
  assert.match(source, /var acc = vec4<f32>\(0\.0\);/);
  assert.match(source, /if \(ih0 \+ 2 >= 0 && ih0 \+ 2 < 56 && iw0 \+ 1 >= 0 && iw0 \+ 1 < 56\) \{ acc = fma\(X\[\(\(image \* 56 \+ ih0 \+ 2\) \* 56 \+ iw0 \+ 1\) \* 16 \+ lane\], W\[112 \+ lane\], acc\); \}/);
  assert.match(source, /acc = acc \+ Bias\[lane\];\s*acc = clamp\(acc, vec4<f32>\(0\.0\), vec4<f32>\(6\.0\)\);/);
  const ragged = depthwiseShader({ ...CONV, channels: 6, padHeight: 0, padWidth: 0, outHeight: 54, outWidth: 54 }, false, undefined);
  assert.match(ragged, /var acc = f32\(0\.0\);/);
  assert.ok(!ragged.includes("ih0 + 0 >= 0") && !ragged.includes("Bias") && !ragged.includes("clamp"), "no padding, bias or activation: none written");
  assert.notEqual(depthwiseShaderKey(CONV, true, "relu"), depthwiseShaderKey({ ...CONV, dilationWidth: 2 }, true, "relu"));
  assert.notEqual(depthwiseShaderKey(CONV, true, "relu"), depthwiseShaderKey(CONV, true, "relu6"));
});

test("a layer norm prologue: row statistics before the K loop, A normalized as it is loaded, in the key; GELU by erf's approximation", () => {
  const plain = gemmShader(spec({ k: 192, n: 768, bias: true, tile: chooseGemmTile(197, 768, 192) }));
  assert.doesNotMatch(plain, /rowMean|Gamma|erf/);
  const ln = spec({ k: 192, n: 768, bias: true, activation: "gelu", layerNorm: { eps: 1e-6, gamma: true, beta: true }, tile: chooseGemmTile(197, 768, 192) });
  const source = gemmShader(ln);
  // 32x64 tile, 2x4 per thread: 256 threads, 8 a row; vec4 reads of the row, 192 / 4 of them.
  assert.match(source, /var<workgroup> rowMean : array<f32, 32>;/);
  assert.match(source, /let statPart = thread % 8;/);
  assert.match(source, /for \(var q = statPart; q < 48; q = q \+ 8\)/);
  assert.match(source, /rowRstd\[statLocal\] = inverseSqrt\(rowTotal \/ 192\.0 \+ 0\.000001\);/);
  assert.ok(source.indexOf("rowRstd[statLocal]") < source.indexOf("for (var t = 0;"), "the statistics come before the K loop");
  assert.match(source, /v = A\[\(aBase \+ row \* K \+ k\) \/ 4\]; v = \(v - rowMean\[r\]\) \* rowRstd\[r\] \* Gamma\[k \/ 4\] \+ Beta\[k \/ 4\];/);
  assert.match(source, /0\.3275911/, "Abramowitz and Stegun 7.1.26");
  assert.notEqual(gemmShaderKey(ln), gemmShaderKey({ ...ln, layerNorm: { eps: 1e-5, gamma: true, beta: true } }), "eps is in the source");
  assert.notEqual(gemmShaderKey(ln), gemmShaderKey({ ...ln, layerNorm: { eps: 1e-6, gamma: true, beta: false } }));
  assert.throws(() => gemmShader({ ...ln, loader: { kind: "im2col", conv: CONV } }), /layer norm prologue reads a matrix's rows/);
});

test("half precision: f16 tiles rounded as stored, each BK step's products summed in f16 and added to f32 accumulators; the epilogue and the layer norm's statistics stay f32", () => {
  const f16 = gemmShader(spec({ k: 64, n: 128, bias: true, addend: true, activation: "relu", precision: "f16" }));
  assert.match(f16, /^\s*enable f16;/, "the directive the device hoists to the module's front");
  assert.match(f16, /var<workgroup> As : array<array<vec4<f16>, 16>, 16>;/);
  assert.match(f16, /var<workgroup> Bs : array<array<vec4<f16>, 16>, 16>;/);
  assert.match(f16, /As\[kk \+ 3\]\[\(r \/ 4\) \^ \(\(kk \+ 3\) \/ 4 \* 2\)\]\[r % 4\] = f16\(v\.w\);/, "A rounded to f16 as it is stored");
  assert.match(f16, /Bs\[kk\]\[j\] = vec4<f16>\(bNext\[i\]\);/, "B rounded to f16 as it is stored");
  assert.match(f16, /var aNext : array<vec4<f32>, 1>;/, "global reads stay f32");
  assert.match(f16, /var part = array<vec4<f16>, 4>\(\);/, "a zeroed f16 partial sum per BK step");
  assert.match(f16, /part\[0\] = fma\(vec4<f16>\(a\.x\), b, part\[0\]\);/);
  assert.match(f16, /acc\[i\] = acc\[i\] \+ vec4<f32>\(part\[i\]\);/, "each step's partial sums added into the f32 accumulators");
  assert.match(f16, /var acc : array<vec4<f32>, 4>;/);
  assert.match(f16, /value = value \+ Bias\[col \/ 4\];/, "the epilogue in f32, as before");
  const fp32 = gemmShader(spec({ k: 64, n: 128, bias: true, addend: true, activation: "relu" }));
  assert.ok(!fp32.includes("f16") && !fp32.includes("part"), "f32's shader has no f16 in it");
  const single = gemmShader(spec({ tile: { ...BIG, bm: 32, tm: 2 }, precision: "f16" }));
  assert.match(single, /var<workgroup> As : array<array<f16, 32>, 16>;/);
  assert.match(single, /part\[i\] = fma\(vec4<f16>\(As\[kk\]/);
  const ln = gemmShader(spec({ layerNorm: { eps: 1e-6, gamma: true, beta: true }, precision: "f16" }));
  assert.match(ln, /var<workgroup> rowMean : array<f32, 64>;/, "the prologue's statistics stay f32");
  assert.match(ln, /v = \(v - rowMean\[r\]\) \* rowRstd\[r\] \* Gamma\[k \/ 4\] \+ Beta\[k \/ 4\];/, "normalized in f32 (v is the f32 load), rounded when stored");
  assert.equal(gemmShaderKey(spec({ precision: "f16" })), `${gemmShaderKey(spec({}))}_f16`, "the precision is part of the key; f32's key is as it was");
});

test("a program's enable directive is hoisted to the front of the module tfjs writes around it", () => {
  const module = "struct Uniforms { x : f32 };\n  fn main() {}\n  enable f16;\n  const K : i32 = 4;";
  const hoisted = hoistEnableDirectives(module);
  assert.ok(hoisted.startsWith("enable f16;\n"), hoisted);
  assert.equal(hoisted.match(/enable f16;/g)?.length, 1);
  assert.ok(hoisted.includes("struct Uniforms") && hoisted.includes("const K : i32 = 4;"));
  assert.equal(hoistEnableDirectives("fn main() {} // no enable here"), "fn main() {} // no enable here", "a module without one is left as it is");
});
