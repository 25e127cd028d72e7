import { defineOp } from "./registry.js";
import { call } from "./lowering.js";
import { asBool, asInts, asTensor, type ArgValue } from "./schema.js";
import { windowOutput } from "./conv.js";
import { ShapeError, tensor, type Dim } from "../graph/value.js";

function pooledShape(a: Readonly<Record<string, ArgValue>>, op: string): Dim[] {
  const x = asTensor(a.input, `${op} input`);
  if (x.shape.length !== 4) throw new ShapeError(`${op} expects a 4-D input [N, C, H, W], got rank ${x.shape.length}`);
  const { kernel, stride, padding, ceilMode } = poolAttrs(a);
  const dilation = "dilation" in a ? asInts(a.dilation, 2, "dilation") : [1, 1];
  const ceil = ceilMode === true;
  for (let i = 0; i < 2; i++) {
    if (padding[i]! > kernel[i]! / 2) throw new ShapeError(`${op}: padding should be at most half of the kernel size`);
  }
  const [n, c, h, w] = x.shape as [Dim, Dim, Dim, Dim];
  const oh = windowOutput(h, kernel[0]!, stride[0]!, padding[0]!, dilation[0]!, ceil);
  const ow = windowOutput(w, kernel[1]!, stride[1]!, padding[1]!, dilation[1]!, ceil);
  if ((typeof oh === "number" && oh < 1) || (typeof ow === "number" && ow < 1)) {
    throw new ShapeError(`input ${String(h)}x${String(w)} is smaller than the ${kernel.join("x")} pooling window`);
  }
  return [n, c, oh, ow];
}

/** Pooling attributes as the runtime takes them; ceil_mode only when set. */
function poolAttrs(a: Readonly<Record<string, ArgValue>>): { kernel: number[]; stride: number[]; padding: number[]; ceilMode?: true } {
  const kernel = asInts(a.kernel_size, 2, "kernel_size");
  const stride = a.stride === null || (Array.isArray(a.stride) && a.stride.length === 0) ? kernel : asInts(a.stride, 2, "stride");
  return { kernel, stride, padding: asInts(a.padding, 2, "padding"), ...(asBool(a.ceil_mode, "ceil_mode") ? { ceilMode: true as const } : {}) };
}

const dilationAttr = (dilation: number[]): { dilation?: number[] } => (dilation.some((d) => d !== 1) ? { dilation } : {});

defineOp({
  schema: "max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False)",
  infer: (a) => tensor(pooledShape(a, "max_pool2d")),
  lower: (ctx) => call("maxPool2d", [ctx.tensor("input", "channelsLast")], { ...poolAttrs(ctx.args), ...dilationAttr(asInts(ctx.args.dilation, 2, "dilation")) }),
});

defineOp({
  schema: "avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None)",
  infer: (a) => tensor(pooledShape(a, "avg_pool2d")),
  lower: (ctx) => call("avgPool2d", [ctx.tensor("input", "channelsLast")], { ...poolAttrs(ctx.args), ...(asBool(ctx.args.count_include_pad, "count_include_pad") ? {} : { countIncludePad: false }) }),
});

/** torch's adaptive output size: an int, or a pair whose `None` keeps the input size. */
function adaptiveSize(a: Readonly<Record<string, ArgValue>>, op: string): { shape: Dim[]; size: [number, number] } {
  const x = asTensor(a.input, `${op} input`);
  if (x.shape.length !== 4) throw new ShapeError(`${op} expects a 4-D input [N, C, H, W], got rank ${x.shape.length}`);
  const [n, c, h, w] = x.shape as [Dim, Dim, Dim, Dim];
  const raw = Array.isArray(a.output_size) ? a.output_size : [a.output_size, a.output_size];
  const size = raw.map((s, i) => (s === null ? (i === 0 ? h : w) : s)) as [Dim, Dim];
  const [oh, ow] = size.map((s, i) => asInts(s as ArgValue, 1, `output_size[${i}]`)[0]!) as [number, number];
  return { shape: [n, c, oh, ow], size: [oh, ow] };
}

for (const [name, runtime] of [
  ["adaptive_avg_pool2d", "adaptiveAvgPool2d"],
  ["adaptive_max_pool2d", "adaptiveMaxPool2d"],
] as const) {
  defineOp({
    schema: `${name}(input, output_size)`,
    infer: (a) => tensor(adaptiveSize(a, name).shape),
    lower: (ctx) => call(runtime, [ctx.tensor("input", "channelsLast")], { outputSize: adaptiveSize(ctx.args, name).size }),
  });
}
