import { defineOp } from "./registry.js";
import { call } from "./lowering.js";
import { asInt, asInts, asNumber, asOptionalTensor, asTensor } from "./schema.js";
import { ShapeError, formatShape, numel, tensor, type Dim } from "../graph/value.js";

/**
 * The functions torchvision's swin_transformer.py wraps with `torch.fx.wrap`: each is one
 * `call_function` node whose body the tracer does not see, so each has its own shape rule
 * and runtime kernel (runtime/ops/swin.ts). Their tensors are torch-ordered ([B, H, W, C]).
 */


defineOp({
  schema: "_patch_merging_pad(input)",
  infer(a) {
    const x = asTensor(a.input, "_patch_merging_pad input");
    if (x.shape.length < 3) throw new ShapeError(`_patch_merging_pad needs [..., H, W, C], got ${formatShape(x.shape)}`);
    const [h, w, c] = x.shape.slice(-3);
    if (typeof h !== "number" || typeof w !== "number" || typeof c !== "number") throw new ShapeError("_patch_merging_pad cannot merge the batch dim");
    return tensor([...x.shape.slice(0, -3), Math.ceil(h / 2), Math.ceil(w / 2), 4 * c]);
  },
  lower: (ctx) => call("patchMergingPad", [ctx.tensor("input", "contiguous")], {}, "contiguous"),
});

defineOp({
  schema: "_get_relative_position_bias(relative_position_bias_table, relative_position_index, window_size)",
  infer(a) {
    const table = asTensor(a.relative_position_bias_table, "relative_position_bias_table");
    const index = asTensor(a.relative_position_index, "relative_position_index");
    const [wh, ww] = asInts(a.window_size, 2, "window_size");
    const n = wh! * ww!;
    if (table.shape.length !== 2) throw new ShapeError(`the relative position bias table must be [positions, heads], got ${formatShape(table.shape)}`);
    if (numel(index.shape) !== n * n) throw new ShapeError(`a ${wh}x${ww} window needs ${n * n} relative position indices, got ${formatShape(index.shape)}`);
    return tensor([1, table.shape[1]!, n, n]);
  },
  lower(ctx) {
    const [wh, ww] = asInts(ctx.args.window_size, 2, "window_size");
    return call("relativePositionBias", [ctx.tensor("relative_position_bias_table", "contiguous"), ctx.tensor("relative_position_index", "contiguous")], { size: wh! * ww! }, "contiguous");
  },
});

defineOp({
  schema:
    "shifted_window_attention(input, qkv_weight, proj_weight, relative_position_bias, window_size, num_heads, shift_size, attention_dropout=0.0, dropout=0.0, qkv_bias=None, proj_bias=None, logit_scale=None)",
  infer(a) {
    const x = asTensor(a.input, "shifted_window_attention input");
    if (x.shape.length !== 4) throw new ShapeError(`shifted_window_attention needs [B, H, W, C], got ${formatShape(x.shape)}`);
    const c = x.shape[3] as Dim;
    const heads = asInt(a.num_heads, "num_heads");
    const [wh, ww] = asInts(a.window_size, 2, "window_size");
    asInts(a.shift_size, 2, "shift_size");
    if (typeof c !== "number" || c % heads !== 0) throw new ShapeError(`${String(c)} channels do not split into ${heads} heads`);
    const expect = (name: string, shape: readonly Dim[] | undefined, want: readonly number[]): void => {
      if (shape !== undefined && shape.join(",") !== want.join(",")) throw new ShapeError(`${name} must be ${formatShape(want)} for ${c} channels, got ${formatShape(shape)}`);
    };
    expect("qkv_weight", asTensor(a.qkv_weight, "qkv_weight").shape, [3 * c, c]);
    expect("proj_weight", asTensor(a.proj_weight, "proj_weight").shape, [c, c]);
    expect("qkv_bias", asOptionalTensor(a.qkv_bias, "qkv_bias")?.shape, [3 * c]);
    expect("proj_bias", asOptionalTensor(a.proj_bias, "proj_bias")?.shape, [c]);
    const n = wh! * ww!;
    expect("relative_position_bias", asTensor(a.relative_position_bias, "relative_position_bias").shape, [1, heads, n, n]);
    return tensor(x.shape);
  },
  lower: (ctx) => call("shiftedWindowAttention", [
      ctx.tensor("input", "contiguous"),
      ctx.param("qkv_weight", "linearWeight"),
      ctx.param("proj_weight", "linearWeight"),
      ctx.tensor("relative_position_bias", "contiguous"),
      ctx.optionalTensor("qkv_bias", "contiguous"),
      ctx.optionalTensor("proj_bias", "contiguous"),
      ctx.optionalTensor("logit_scale", "contiguous"),
    ], {
      windowSize: asInts(ctx.args.window_size, 2, "window_size"),
      numHeads: asInt(ctx.args.num_heads, "num_heads"),
      shiftSize: asInts(ctx.args.shift_size, 2, "shift_size"),
      attentionDropout: asNumber(ctx.args.attention_dropout, "attention_dropout"),
      dropout: asNumber(ctx.args.dropout, "dropout"),
    }, "contiguous"),
});
