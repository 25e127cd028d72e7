import assert from "node:assert/strict";
import { chooseBackend, tf } from "../../runtime/index.js";
import { conv2d as tfjsConv2d, depthwiseConv2d as tfjsDepthwiseConv2d, type Conv2dAttrs } from "../../runtime/ops/conv.js";
import { conv2d, conv2dWithAddend, depthwiseConv2d } from "../../runtime/webgpu/ops/conv.js";
import { fixtureCases, runCase } from "../support/fixtures.js";
import { errorAgainst, pipelineKeys, webgpuTest } from "../support/webgpu.js";
import { seededUniform } from "../support/seeded.js";

/**
 * fxc's conv2d, an implicit GEMM (runtime/webgpu/gemm.ts), against tfjs's conv2d on the same
 * webgpu device (lavapipe in CI): the layer shapes models have, ragged channel counts, the
 * epilogue's bias, activation and addend, batch > 1; the depthwise kernel; then resnet18,
 * vgg11_bn and mobilenet_v3_small (depthwise) through webgpuKernels "fxc" within the fixture bound.
 */

interface ConvCase {
  readonly name: string;
  readonly input: readonly [number, number, number, number];
  readonly kernel: readonly [number, number];
  readonly out: number;
  readonly attrs: Conv2dAttrs;
  readonly bias: boolean;
}

const CASES: readonly ConvCase[] = [
  { name: "1x1 (read as a matrix), batch 2", input: [2, 8, 8, 16], kernel: [1, 1], out: 32, attrs: { stride: [1, 1], padding: [0, 0] }, bias: true },
  { name: "1x1 stride 2 (a downsample)", input: [1, 9, 9, 8], kernel: [1, 1], out: 12, attrs: { stride: [2, 2], padding: [0, 0] }, bias: false },
  { name: "3x3 stride 1, aligned, relu, batch 2", input: [2, 12, 12, 16], kernel: [3, 3], out: 64, attrs: { stride: [1, 1], padding: [1, 1], activation: "relu" }, bias: true },
  { name: "3x3 stride 2, 3 channels in, 5 out, relu6", input: [1, 11, 11, 3], kernel: [3, 3], out: 5, attrs: { stride: [2, 2], padding: [1, 1], activation: "relu6" }, bias: true },
  { name: "7x7 stride 2 pad 3 (resnet's stem), batch 2", input: [2, 15, 15, 3], kernel: [7, 7], out: 16, attrs: { stride: [2, 2], padding: [3, 3], activation: "relu" }, bias: true },
  { name: "3x3 dilation 2 pad 2, 6 channels", input: [1, 10, 10, 6], kernel: [3, 3], out: 12, attrs: { stride: [1, 1], padding: [2, 2], dilation: [2, 2] }, bias: false },
  { name: "3x1, stride 2x1, padding 1x0 (per-axis geometry)", input: [1, 9, 7, 4], kernel: [3, 1], out: 6, attrs: { stride: [2, 1], padding: [1, 0] }, bias: true },
];

webgpuTest("fxc's conv2d equals tfjs's: 1x1, 3x3 stride 1 and 2, 7x7 stride 2 pad 3, dilation 2, ragged channels, bias, relu and relu6, batch 2", async () => {
  await chooseBackend("webgpu");
  for (const c of CASES) {
    const x = seededUniform(c.input, 1);
    const w = seededUniform([...c.kernel, c.input[3], c.out], 2);
    const b = c.bias ? seededUniform([c.out], 3) : null;
    const ours = conv2d(x, w, b, c.attrs);
    const theirs = tfjsConv2d(x, w, b, c.attrs);
    const error = await errorAgainst(ours, theirs);
    assert.ok(error <= 1e-5, `${c.name}: relative error ${error}`);
    tf.dispose([x, w, ours, theirs, ...(b === null ? [] : [b])]);
  }
  const keys = pipelineKeys();
  assert.ok(keys.some((k) => k.startsWith("fxcGemm_16_32_mat_")), "the 1x1 convolution read its input as a matrix");
  assert.ok(keys.some((k) => k.startsWith("fxcGemm_147_16_im2col15,15,3,7,7,2,2,3,3,1,1,8,8_")), "the stem ran as an implicit GEMM");
});

webgpuTest("the epilogue adds an addend of the output's shape before the activation: act(conv + bias + addend)", async () => {
  await chooseBackend("webgpu");
  // Aligned (vec4 stores) and ragged (5 channels, scalar stores); with and without a bias.
  for (const [input, out, activation, withBias] of [
    [[2, 8, 8, 8], 12, "relu", true],
    [[1, 7, 7, 3], 5, "relu6", false],
    [[1, 6, 6, 16], 32, undefined, true],
  ] as const) {
    const attrs: Conv2dAttrs = { stride: [1, 1], padding: [1, 1], ...(activation === undefined ? {} : { activation }) };
    const x = seededUniform(input, 4);
    const w = seededUniform([3, 3, input[3], out], 5);
    const b = withBias ? seededUniform([out], 6) : null;
    const addend = tf.mul(seededUniform([input[0], input[1], input[2], out], 7), 4);
    const ours = conv2dWithAddend(x, w, b, addend, attrs, "f32");
    assert.ok(ours !== undefined, "fxc's kernel applies");
    const sum = tf.add(tfjsConv2d(x, w, b, { stride: attrs.stride, padding: attrs.padding }), addend);
    const theirs = activation === "relu" ? tf.relu(sum) : activation === "relu6" ? tf.relu6(sum) : sum;
    const error = await errorAgainst(ours, theirs);
    assert.ok(error <= 1e-5, `[${input}] -> ${out}, ${activation ?? "no activation"}: relative error ${error}`);
    tf.dispose([x, w, addend, ours, sum, theirs, ...(b === null ? [] : [b])]);
  }
  assert.ok(pipelineKeys().some((k) => k.includes("_bias_add_relu_")));
});

webgpuTest("grouped convolutions, an addend of another shape and integer inputs are left to tfjs's kernel", async () => {
  await chooseBackend("webgpu");
  const x = seededUniform([1, 6, 6, 8], 8);
  const filters = [seededUniform([3, 3, 4, 4], 9), seededUniform([3, 3, 4, 4], 10)];
  const attrs: Conv2dAttrs = { stride: [1, 1], padding: [1, 1], groups: 2 };
  const ours = conv2d(x, filters, null, attrs);
  const theirs = tfjsConv2d(x, filters, null, attrs);
  assert.equal(await errorAgainst(ours, theirs), 0);
  const w = seededUniform([3, 3, 8, 4], 11);
  assert.equal(conv2dWithAddend(x, w, null, tf.zeros([1, 6, 6, 5]), { stride: [1, 1], padding: [1, 1] }, "f32"), undefined);
  assert.equal(conv2dWithAddend(tf.cast(x, "int32"), w, null, null, { stride: [1, 1], padding: [1, 1] }, "f32"), undefined);
  tf.dispose([x, ...filters, w, ours, theirs]);
});

webgpuTest("fxc's depthwise conv2d equals tfjs's: stride 1 and 2, dilation 2, 5x5, channels not a multiple of 4, bias, relu6, batch 2", async () => {
  await chooseBackend("webgpu");
  for (const [input, kernel, attrs, withBias] of [
    [[2, 9, 9, 32], [3, 3], { stride: [1, 1], padding: [1, 1], activation: "relu6" }, true],
    [[1, 11, 11, 6], [3, 3], { stride: [2, 2], padding: [1, 1], activation: "relu" }, true],
    [[1, 12, 12, 16], [5, 5], { stride: [2, 2], padding: [2, 2] }, false],
    [[1, 10, 10, 8], [3, 3], { stride: [1, 1], padding: [2, 2], dilation: [2, 2] }, true],
  ] as const) {
    const x = seededUniform(input, 12);
    const w = seededUniform([...kernel, input[3], 1], 13);
    const b = withBias ? seededUniform([input[3]], 14) : null;
    const ours = depthwiseConv2d(x, w, b, attrs);
    const theirs = tfjsDepthwiseConv2d(x, w, b, attrs);
    const error = await errorAgainst(ours, theirs);
    assert.ok(error <= 1e-5, `[${input}] ${kernel} ${JSON.stringify(attrs)}: relative error ${error}`);
    tf.dispose([x, w, ours, theirs, ...(b === null ? [] : [b])]);
  }
  assert.ok(pipelineKeys().some((k) => k.startsWith("fxcDepthwise_9,9,32,3,3,1,1,1,1,1,1,9,9_bias_relu6")), pipelineKeys().join(", "));
  // Geometry that differs per axis: tfjs's depthwise kernel gets it wrong (a 9x7 input with stride 2x1
  // gives 5x4, not 5x7; a 3x1 filter with padding 1x0 gives 9x5, not 9x7), so the reference is a
  // grouped convolution of one channel per group.
  for (const [kernel, attrs] of [
    [[3, 3], { stride: [2, 1], padding: [1, 1] }],
    [[3, 1], { stride: [1, 1], padding: [1, 0], activation: "relu" }],
  ] as const) {
    const [xs, ws] = [seededUniform([1, 9, 7, 4], 17), seededUniform([...kernel, 4, 1], 18)];
    const perChannel = tf.split(ws, 4, 2);
    const error = await errorAgainst(depthwiseConv2d(xs, ws, null, attrs), tfjsConv2d(xs, perChannel, null, { ...attrs, groups: 4 }));
    assert.ok(error <= 1e-5, `${kernel} ${JSON.stringify(attrs)}: relative error ${error}`);
  }
  // A channel multiplier of 2 is tfjs's.
  const x = seededUniform([1, 5, 5, 3], 15);
  const w = seededUniform([3, 3, 3, 2], 16);
  const attrs: Conv2dAttrs = { stride: [1, 1], padding: [1, 1] };
  assert.equal(await errorAgainst(depthwiseConv2d(x, w, null, attrs), tfjsDepthwiseConv2d(x, w, null, attrs)), 0);
});

/** Shader keys only these fixtures' layers make (their input sizes): the stem and a last-stage convolution; a key's prefix or a pattern. */
const FIXTURE_KEYS: Record<string, readonly (string | RegExp)[]> = {
  // layer1's second convolutions with the block's residual and relu in the epilogue (conv2dAdd);
  // layer4's 3x3 convolutions (2 images of 2x2 pixels, K = 4608: 8 workgroups) split K in 16,
  // their residual and relu applied by the program that adds the slices.
  resnet18_seeded: [
    "fxcGemm_147_64_im2col40,40,3,7,7,2,2,3,3,1,1,20,20_",
    /^fxcGemm_576_64_im2col10,10,64,3,3,1,1,1,1,1,1,10,10_.*_bias_add_relu_/,
    "fxcGemm_256_512_im2col3,3,256,1,1,2,2,0,0,1,1,2,2_",
    "fxcGemm_512_1000_mat_",
    /^fxcGemm_4608_512_im2col2,2,512,3,3,1,1,1,1,1,1,2,2_.*_bias_add_relu__split16_/,
    /^fxcGemmSum_16_512_bias_add_relu/,
  ],
  vgg11_bn_seeded: ["fxcGemm_27_64_im2col32,32,3,3,3,1,1,1,1,1,1,32,32_", "fxcGemm_4608_512_im2col4,4,512,3,3,1,1,1,1,1,1,4,4_"],
  mobilenet_v3_small_seeded: ["fxcDepthwise_32,32,16,3,3,2,2,1,1,1,1,16,16_bias_relu_", "fxcDepthwise_4,4,288,5,5,2,2,2,2,1,1,2,2_bias__", "fxcGemm_16_72_mat_"],
};

for (const [id, keys] of Object.entries(FIXTURE_KEYS)) {
  webgpuTest(`with webgpuKernels "fxc", ${id}'s convolutions run fxc's kernels within the fixture bound`, async () => {
    const [c] = fixtureCases((x) => x.id === id);
    assert.ok(c, `the fixture case ${id}`);
    const result = await runCase(c, { layout: "nhwc", backend: "webgpu", engine: "tfjs", webgpuKernels: "fxc" });
    assert.equal(result.webgpuKernels, "fxc");
    for (const [key, error] of Object.entries(result.errors)) assert.ok(error <= c.tolerance, `${key}: ${error}`);
    for (const key of keys) assert.ok(pipelineKeys().some((k) => (typeof key === "string" ? k.startsWith(key) : key.test(k))), `${String(key)} ran: ${pipelineKeys().join(", ")}`);
  });
}
