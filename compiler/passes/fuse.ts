import type { ConvActivation, FusedActivation } from "@fxc/runtime/internal/ops/support/activation";
import { HEADS_FIRST, KEYS_TRANSPOSED } from "@fxc/runtime/internal/ops/support/attention";
import { operandParams, readCounts, returnedValues, rewritten, sourceKeys, type Instruction, type Operand, type ParamSpec, type Program } from "../graph/program.js";
import { runtimeDim, type AbstractValue, type Dim } from "../graph/value.js";
import { identifierFor } from "./lower.js";
import { dropDeadShapeReads, planMoves, stepsOf, storedShape, type Step } from "./moves.js";

/**
 * Fusions over the lowered program, each of which removes runtime calls and intermediate tensors:
 * - scaled dot-product attention, [mul(q, scale) →] matmul(·, kᵀ) → softmax → matmul(·, v), as
 *   one attention call (runtime/ops/attention.ts), in either mode: train mode's attention
 *   dropout between softmax and the second matmul is fused only where it is a no-op (p = 0);
 * - in either mode (it moves data only), such an attention between torch's head split of the
 *   in-projection's packed q|k|v product and the merge of its heads: one multiHeadAttention call
 *   reading the packed product;
 * - in eval mode, batch norm folded into the preceding convolution's filter and bias (done at
 *   load time);
 * - in eval mode, a residual added to the convolution's result (a ResNet block's `out + identity`):
 *   one conv2dAdd, which an engine with its own convolution adds in the convolution's epilogue;
 * - in eval mode, ReLU and ReLU6 fused into the convolution (tfjs's fused conv2d applies them), or
 *   after the residual's add into conv2dAdd;
 * - in eval mode, the same for linear: a residual added to its result (a transformer block's
 *   out_proj and fc2 plus the block's input) as one linearAdd, and ReLU, ReLU6 or exact GELU
 *   (an MLP's fc1, a detection box head's fc6 and fc7) as linear's activation, after any add;
 * - in eval mode, a layer norm over the last dim read only by a linear (a transformer block's ln
 *   before in_proj, ln_2 before fc1) as one layerNormLinear, which fxc's GEMM applies as it loads
 *   the product's rows (a shapeOf of the layer norm reads its input instead: the same shape).
 * A value that is returned, or read by anything else, is never fused away.
 */
export function fuse(program: Program): Program {
  let p = fuseMultiHeadAttention(fuseAttention(program));
  if (p.mode !== "eval") return p;
  p = fuseInto(p, foldBatchNorm);
  // Before the activations, so that a block's relu, which reads its add, fuses into the conv2dAdd
  // the add became. This order loses no fusion: a convolution has one reader to be fused with.
  p = fuseInto(p, fuseResidual);
  p = fuseInto(p, fuseActivation);
  // Last: the linear it fuses into has its activation by then; a linearAdd keeps its layer norm.
  p = fuseLayerNorm(p);
  return p;
}

type Convolution = Extract<Instruction, { readonly op: "conv2d" | "depthwiseConv2d" }>;
const isConvolution = (ins: Instruction): ins is Convolution => ins.op === "conv2d" || ins.op === "depthwiseConv2d";
type Product = Extract<Instruction, { readonly op: "linear" | "linearAdd" }>;
const isProduct = (ins: Instruction): ins is Product => ins.op === "linear" || ins.op === "linearAdd";
/** An activation the convolution kernels apply themselves. */
const isConvActivation = (ins: Instruction): ins is Extract<Instruction, { readonly op: ConvActivation }> => ins.op === "relu" || ins.op === "relu6";
/** An activation the linear kernels apply themselves: a convolution's, or torch's exact GELU (not its tanh form). */
const isLinearActivation = (ins: Instruction): ins is Extract<Instruction, { readonly op: FusedActivation }> =>
  isConvActivation(ins) || (ins.op === "gelu" && (ins.attrs.approximate ?? "none") === "none");

/** What a fusion may look up: the program's params (which it may add to) and its instructions by id, as they were before the pass. */
interface FusionContext {
  readonly params: Map<string, ParamSpec>;
  readonly instructions: ReadonlyMap<string, Instruction>;
}

type Call<K extends Instruction["op"]> = Extract<Instruction, { readonly op: K }>;

/**
 * Each matmul(weights, v) whose weights are softmax(matmul(q, kᵀ)) over the last axis, through a
 * dropout of p = 0 in train mode and from a q scaled by a constant, becomes attention(q, kᵀ, v,
 * { scale }) in the final matmul's place. Each step must be read by the next only: one that is
 * returned or read elsewhere (an attention's weights returned) keeps the chain unfused from it on
 * (a scaling read elsewhere stays a call of its own, and the attention takes scale 1).
 */
function fuseAttention(program: Program): Program {
  const { onlyFor } = soleReads(program);
  const removed = new Set<string>();
  const replaced = new Map<string, Instruction>();
  for (const output of program.instructions) {
    if (output.op !== "matmul") continue;
    const first = onlyFor(output.inputs[0]);
    const dropout = first?.op === "dropout" ? first : undefined;
    if (dropout !== undefined && dropout.attrs.p !== 0) continue;
    const weights = dropout === undefined ? first : onlyFor(dropout.inputs[0]);
    if (weights?.op !== "softmax" || weights.value.kind !== "tensor" || weights.attrs.axis !== weights.value.shape.length - 1) continue;
    const scores = onlyFor(weights.inputs[0]);
    if (scores?.op !== "matmul") continue;
    const scaling = scaledBy(onlyFor(scores.inputs[0]));
    const chain = [...(scaling === undefined ? [] : [scaling.mul]), scores, weights, ...(dropout === undefined ? [] : [dropout]), output];
    // A step that is already another attention (one fed straight into the next's q·kᵀ) stays as it is.
    if (chain.some((i) => replaced.has(i.id))) continue;
    chain.slice(0, -1).forEach((i) => removed.add(i.id));
    const fused: Call<"attention"> = {
      op: "attention",
      id: output.id,
      inputs: [scaling?.q ?? scores.inputs[0]!, scores.inputs[1]!, output.inputs[1]!],
      attrs: { scale: scaling?.scale ?? 1 },
      nodes: chain.flatMap((i) => i.nodes),
      value: output.value,
      ...(output.format === undefined ? {} : { format: output.format }),
      note: `${chain.map((i) => i.op).join(" → ")} fused into one attention call`,
    };
    replaced.set(output.id, fused);
  }
  if (removed.size === 0) return program;
  return { ...program, instructions: rewritten(program.instructions, removed, replaced) };
}

/**
 * What a fusion over a chain of calls looks up: the reads of each value (a value returned counts
 * as read once more) and, through `onlyFor`, the instruction computing an operand when the step
 * reading it is its only reader.
 */
function soleReads(program: Program): { readers: Map<string, number>; byId: Map<string, Instruction>; onlyFor: (o: Operand | undefined) => Instruction | undefined } {
  const readers = readCounts([...program.instructions.flatMap((i) => i.inputs), ...program.outputs.map((o) => o.operand)]);
  const byId = new Map(program.instructions.map((i) => [i.id, i]));
  const onlyFor = (o: Operand | undefined): Instruction | undefined => (o?.kind === "value" && readers.get(o.id) === 1 ? byId.get(o.id) : undefined);
  return { readers, byId, onlyFor };
}

/**
 * torch's multi_head_attention_forward around an attention call (fuseAttention's): the
 * in-projection's packed [B, T, 3E] product split into three E-wide column blocks, q, k and v,
 * each viewed as H heads of D = E / H and moved to [B, H, T, D] (k to kᵀ, [B, H, D, T]), and the
 * attention's [B, H, T, D] moved back to [B, T, E], the heads concatenated as torch's reshape
 * does: one multiHeadAttention(qkv, { heads, scale }) in the last move's place. Each chain of views
 * and permutes is proven by what it does to storage (moves.ts's planMoves) against that head
 * split, whatever ops spell it; any step returned or read elsewhere (the attention's q, its
 * output before the merge) keeps the whole chain unfused.
 */
function fuseMultiHeadAttention(program: Program): Program {
  const { readers, byId, onlyFor } = soleReads(program);
  const position = new Map(program.instructions.map((i, n) => [i.id, n]));
  const readerOf = new Map(program.instructions.flatMap((i) => i.inputs.flatMap((o) => (o.kind === "value" ? [[o.id, i] as const] : []))));
  const removed = new Set<string>();
  const replaced = new Map<string, Instruction>();
  for (const attention of program.instructions) {
    if (attention.op !== "attention") continue;
    const sources = attention.inputs.map((o) => movedFrom(o, onlyFor));
    const [q, k, v] = sources;
    if (q === undefined || k === undefined || v === undefined) continue;
    const split = q.getitem.inputs[0]?.kind === "value" ? byId.get(q.getitem.inputs[0].id) : undefined;
    const packed = split?.inputs[0]?.kind === "value" ? byId.get(split.inputs[0].id) : undefined;
    if (split?.op !== "split" || packed === undefined || readers.get(split.id) !== 3) continue;
    if (sources.some((s, index) => s?.getitem.inputs[0]?.kind !== "value" || s.getitem.inputs[0].id !== split.id || !isConstant(s.getitem.inputs[1], index))) continue;
    const heads = headSplit(storedShape(packed), split.attrs, storedShape(attention));
    if (heads === undefined) continue;
    const { batch, tokens, count, dim } = heads;
    const embed = count * dim;
    const viewed: Step = { reshape: [batch, tokens, count, dim] };
    const headsFirst: Dim[] = [batch, count, tokens, dim];
    if (
      !sameMoves(q.getitem, q.chain, [viewed, { transpose: HEADS_FIRST }], headsFirst) ||
      !sameMoves(k.getitem, k.chain, [viewed, { transpose: KEYS_TRANSPOSED }], [batch, count, dim, tokens]) ||
      !sameMoves(v.getitem, v.chain, [viewed, { transpose: HEADS_FIRST }], headsFirst)
    ) {
      continue;
    }
    const merged: Step[] = [{ transpose: HEADS_FIRST }, { reshape: [batch, tokens, embed] }];
    // The merge of the heads: the attention's moves forward, each read by the next only, up to the first that provably is torch's.
    const moves: Instruction[] = [];
    let merge: Instruction[] | undefined;
    for (let at: Instruction = attention; merge === undefined && readers.get(at.id) === 1; ) {
      const next = readerOf.get(at.id);
      if (next === undefined || stepsOf(next) === undefined || next.inputs[0]?.kind !== "value" || next.inputs[0].id !== at.id) break;
      moves.push(next);
      if (sameMoves(attention, moves, merged, [batch, tokens, embed])) merge = moves;
      at = next;
    }
    const last = merge?.[merge.length - 1];
    if (merge === undefined || last === undefined) continue;
    const chain = [split, ...[q, k, v].flatMap((s) => [s.getitem, ...s.chain]), attention, ...merge];
    const inOrder = [...chain].sort((a, b) => position.get(a.id)! - position.get(b.id)!);
    chain.filter((i) => i !== last).forEach((i) => removed.add(i.id));
    const fused: Call<"multiHeadAttention"> = {
      op: "multiHeadAttention",
      id: last.id,
      inputs: [split.inputs[0]!],
      attrs: { heads: count, scale: attention.attrs.scale },
      nodes: [...new Set(inOrder.flatMap((i) => i.nodes))],
      value: last.value,
      ...(last.format === undefined ? {} : { format: last.format }),
      note: `q|k|v split into ${count} heads of ${dim}, ${attention.note ?? "attention"}, heads merged: one multiHeadAttention call reading the packed product`,
    };
    replaced.set(last.id, fused);
  }
  if (removed.size === 0) return program;
  const instructions = rewritten(program.instructions, removed, replaced);
  // The views' target shapes read the batch size (`x.size(0)`): those reads go with them.
  return { ...program, instructions: dropDeadShapeReads(instructions, returnedValues(program)) };
}

/** The getitem of a split that a chain of moves (possibly none), each read by the next only, turns into operand `o`. */
function movedFrom(o: Operand | undefined, onlyFor: (o: Operand | undefined) => Instruction | undefined): { getitem: Call<"getitem">; chain: Instruction[] } | undefined {
  const chain: Instruction[] = [];
  let ins = onlyFor(o);
  for (; ins !== undefined && stepsOf(ins) !== undefined; ins = onlyFor(ins.inputs[0])) chain.unshift(ins);
  return ins?.op === "getitem" ? { getitem: ins, chain } : undefined;
}

const isConstant = (o: Operand | undefined, value: number): boolean => o?.kind === "const" && o.value === value;

/**
 * The heads of a packed product [B, T, 3E] that a split into three equal blocks of its last axis
 * and an attention whose result is stored [B, H, T, D] imply: undefined unless 3E = 3·H·D.
 */
function headSplit(packed: readonly Dim[] | undefined, split: { readonly sizes: readonly number[]; readonly axis: number }, attended: readonly Dim[] | undefined): { batch: Dim; tokens: number; count: number; dim: number } | undefined {
  if (packed?.length !== 3 || attended?.length !== 4) return undefined;
  const [batch, tokens, width] = packed as [Dim, Dim, Dim];
  const [attendedBatch, count, attendedTokens, dim] = attended as [Dim, Dim, Dim, Dim];
  if (typeof tokens !== "number" || typeof width !== "number" || typeof count !== "number" || typeof dim !== "number" || typeof attendedTokens !== "number") return undefined;
  const embed = count * dim;
  const equalThirds = split.axis === 2 && split.sizes.length === 3 && split.sizes.every((s) => s === embed);
  if (!equalThirds || width !== 3 * embed || attendedBatch !== batch || attendedTokens !== tokens) return undefined;
  return { batch, tokens, count, dim };
}

/** Whether the moves `chain` make of `source`'s value store it as `shape`, each element where the `expected` steps put it. */
function sameMoves(source: Instruction, chain: readonly Instruction[], expected: readonly Step[], shape: readonly Dim[]): boolean {
  const from = storedShape(source);
  const last = chain[chain.length - 1];
  const stored = last === undefined ? from : storedShape(last);
  if (from === undefined || stored === undefined || stored.join() !== shape.join()) return false;
  const actual = planMoves(from, chain.flatMap((i) => stepsOf(i)!));
  const wanted = planMoves(from, expected);
  const canonical = (plan: { split: Dim[]; perm: number[] } | undefined): string | undefined => (plan === undefined ? undefined : JSON.stringify([plan.split.map(runtimeDim), plan.perm]));
  return actual !== undefined && canonical(actual) === canonical(wanted);
}

/** A product of a tensor and a constant number (q * scale, either order): its tensor and the number. */
function scaledBy(ins: Instruction | undefined): { mul: Call<"mul">; q: Operand; scale: number } | undefined {
  if (ins?.op !== "mul" || ins.attrs.channelsLast) return undefined;
  const [a, b] = ins.inputs;
  const number = (o: Operand | undefined): number | undefined => (o?.kind === "const" && typeof o.value === "number" ? o.value : undefined);
  if (number(b) !== undefined && a?.kind === "value") return { mul: ins, q: a, scale: number(b)! };
  if (number(a) !== undefined && b?.kind === "value") return { mul: ins, q: b, scale: number(a)! };
  return undefined;
}

type Fusion = (producer: Instruction, consumer: Instruction, context: FusionContext) => Instruction | undefined;

/**
 * Applies a fusion to each producer whose only reader is the consumer: of the consumer's value
 * operands that such a fusion takes, the one computed last (an add of two convolutions, a ResNet
 * block's conv3 and its downsample, fuses the later one: the calls keep the order they had, which
 * ONNX Runtime runs measurably faster than the other: resnet50 layer1..4, 18.5 against 18.0 images/s).
 */
function fuseInto(program: Program, fusion: Fusion): Program {
  const { readers, byId } = soleReads(program);
  const params = new Map(program.params.map((s) => [s.id, s]));
  const context: FusionContext = { params, instructions: byId };
  const replaced = new Map<string, Instruction>();
  const removed = new Set<string>();
  const position = new Map(program.instructions.map((i, k) => [i.id, k]));
  const computedAt = (o: Operand): number => (o.kind === "value" ? (position.get(o.id) ?? -1) : -1);
  const latestFirst = (inputs: readonly Operand[]): Operand[] => [...inputs].sort((a, b) => computedAt(b) - computedAt(a));
  for (const consumer of program.instructions) {
    for (const operand of latestFirst(consumer.inputs)) {
      if (operand.kind !== "value") continue;
      const producer = byId.get(operand.id);
      if (producer === undefined || readers.get(producer.id) !== 1 || removed.has(producer.id)) continue;
      const fused = fusion(replaced.get(producer.id) ?? producer, consumer, context);
      if (fused === undefined) continue;
      removed.add(producer.id);
      replaced.set(consumer.id, fused);
      break;
    }
  }
  if (removed.size === 0) return program;
  const instructions = rewritten(program.instructions, removed, replaced);
  // Parameters no instruction reads any more (the unfolded ones) are not loaded.
  const used = new Set(instructions.flatMap((i) => i.inputs.flatMap(operandParams)));
  const kept = [...params.values()].filter((s) => used.has(s.id));
  const keys = new Set(kept.flatMap((spec) => sourceKeys(spec.source)));
  const checkpoint = Object.fromEntries(Object.entries(program.checkpoint).filter(([k]) => keys.has(k)));
  return { ...program, instructions, params: kept, checkpoint };
}

/**
 * The checkpoint tensor behind a param operand, or behind a list of its parts (a grouped
 * convolution's per-group filters): its key and specs; key null for an absent optional tensor.
 */
function paramOperand(o: Operand | undefined, params: Map<string, ParamSpec>): { key: string | null; specs: ParamSpec[] } | undefined {
  if (o === undefined || (o.kind === "const" && o.value === null)) return { key: null, specs: [] };
  const items = o.kind === "list" ? o.items : [o];
  const specs = items.map((i) => (i.kind === "param" ? params.get(i.id) : undefined));
  const keys = new Set(specs.map((spec) => (spec !== undefined && "key" in spec.source ? spec.source.key : undefined)));
  const [key] = [...keys];
  if (keys.size !== 1 || key === undefined) return undefined;
  // A list holds every part of one tensor, in order; a single param is the whole tensor.
  const whole = o.kind !== "list" && specs[0]!.part === undefined;
  const parts = o.kind === "list" && specs.every((spec, i) => spec!.part?.index === i && spec!.part.count === specs.length);
  return whole || parts ? { key, specs: specs as ParamSpec[] } : undefined;
}

/** `layer1.0.bn1.running_mean` is tensor `running_mean` of module `layer1.0.bn1`. */
function splitKey(key: string | null | undefined, name: string): string | undefined {
  return key?.endsWith(`.${name}`) ? key.slice(0, -name.length - 1) : undefined;
}

const foldBatchNorm: Fusion = (conv, bn, { params }) => {
  if (bn.op !== "batchNorm" || bn.attrs.training !== false || !isConvolution(conv) || conv.attrs.activation !== undefined) return undefined;
  const [, filterOperand, convBiasOperand] = conv.inputs;
  const [, mean, variance, weight, bias] = bn.inputs.map((o) => paramOperand(o, params)?.key);
  const filter = paramOperand(filterOperand, params);
  const convBias = paramOperand(convBiasOperand, params);
  const convPath = splitKey(filter?.key, "weight");
  const bnPath = splitKey(mean, "running_mean");
  // Fold only the layout torch's Conv2d and BatchNorm2d have; anything else stays as it is.
  const consistent =
    filter !== undefined &&
    convBias !== undefined &&
    convPath !== undefined &&
    bnPath !== undefined &&
    variance === `${bnPath}.running_var` &&
    (convBias.key === null || (convBias.key === `${convPath}.bias` && convBias.specs.length === filter.specs.length)) &&
    ((weight === null && bias === null) || (weight === `${bnPath}.weight` && bias === `${bnPath}.bias`));
  if (!consistent) return undefined;
  const source = { conv: convPath, convBias: convBias.key !== null, bn: bnPath, affine: weight !== null, eps: bn.attrs.eps };
  // One folded filter and bias per part: a grouped convolution keeps its per-group tensors.
  const folded = filter.specs.map((spec) => {
    const part = spec.part === undefined ? {} : { part: spec.part };
    const filterId = uniqueParamId(params, `${spec.id}_bn`);
    params.set(filterId, { id: filterId, source: { fold: "filter", ...source }, transform: spec.transform, ...part });
    const biasId = uniqueParamId(params, `${identifierFor(convPath)}_bias_bn${spec.part === undefined ? "" : `_g${spec.part.index}`}`);
    params.set(biasId, { id: biasId, source: { fold: "bias", ...source }, transform: "none", ...part });
    return { filter: { kind: "param", id: filterId } as Operand, bias: { kind: "param", id: biasId } as Operand };
  });
  const list = (items: Operand[]): Operand => (filterOperand!.kind === "list" ? { kind: "list", items } : items[0]!);
  return {
    ...conv,
    id: bn.id,
    inputs: [conv.inputs[0]!, list(folded.map((f) => f.filter)), list(folded.map((f) => f.bias))],
    nodes: [...conv.nodes, ...bn.nodes],
    value: bn.value,
    note: "batch norm folded into the convolution at load time",
  };
};

function uniqueParamId(params: Map<string, ParamSpec>, base: string): string {
  let id = base;
  for (let i = 2; params.has(id); i++) id = `${base}_${i}`;
  return id;
}

/**
 * `add(conv, x)` or `add(x, conv)` as `conv2dAdd(..., x)`, and `add(linear, x)` or `add(x, linear)`
 * as `linearAdd(..., x)`, where x has the product's shape and format (a broadcast add stays an add)
 * and the product applies no activation of its own (the residual is added before the activation).
 * Only conv2d among convolutions: no torchvision model adds a residual to a depthwise one's result.
 */
const fuseResidual: Fusion = (product, add, { instructions }) => {
  if ((product.op !== "conv2d" && product.op !== "linear") || add.op !== "add" || product.attrs.activation !== undefined || add.attrs.channelsLast !== undefined) return undefined;
  const addend = add.inputs.find((o) => !(o.kind === "value" && o.id === product.id));
  if (addend?.kind !== "value" || add.inputs.length !== 2) return undefined;
  const other = instructions.get(addend.id);
  if (other === undefined || other.format !== product.format || !sameTensorShape(other.value, product.value)) return undefined;
  const what = product.op === "conv2d" ? "convolution" : "linear";
  const fused = {
    id: add.id,
    // The product's operands (input, filter or weight, bias or null), then the residual.
    inputs: [...product.inputs, addend],
    nodes: [...product.nodes, ...add.nodes],
    value: add.value,
    note: `${product.note ? `${product.note}; residual add fused` : `residual add fused into the ${what}`} (${product.op}Add adds it before any activation)`,
  };
  return product.op === "conv2d" ? { ...product, ...fused, op: "conv2dAdd" } : { ...product, ...fused, op: "linearAdd" };
};

function sameTensorShape(a: AbstractValue, b: AbstractValue): boolean {
  return a.kind === "tensor" && b.kind === "tensor" && a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
}

const fuseActivation: Fusion = (product, act) => {
  const fused = (what: string) => ({
    id: act.id,
    nodes: [...product.nodes, ...act.nodes],
    value: act.value,
    note: product.note ? `${product.note}; ${act.op} fused` : `${act.op} fused into the ${what}`,
  });
  if ((isConvolution(product) || product.op === "conv2dAdd") && isConvActivation(act) && product.attrs.activation === undefined) {
    return { ...product, ...fused("convolution"), attrs: { ...product.attrs, activation: act.op } };
  }
  if (isProduct(product) && isLinearActivation(act) && product.attrs.activation === undefined) {
    return { ...product, ...fused("linear"), attrs: { ...product.attrs, activation: act.op } };
  }
  return undefined;
};

/**
 * Each linear whose input is a layer norm over the last dim read by nothing else (or by shapeOfs,
 * which read the layer norm's input instead: it has the same shape and format) becomes one
 * layerNormLinear(x, gamma, beta, weight, bias, { eps, activation }) in the linear's place.
 */
function fuseLayerNorm(program: Program): Program {
  const { readers, byId } = soleReads(program);
  const shapeReaders = new Map<string, Call<"shapeOf">[]>();
  for (const ins of program.instructions) {
    const [read] = ins.inputs;
    if (ins.op === "shapeOf" && read?.kind === "value") shapeReaders.set(read.id, [...(shapeReaders.get(read.id) ?? []), ins]);
  }
  const removed = new Set<string>();
  const replaced = new Map<string, Instruction>();
  for (const linear of program.instructions) {
    const [read, ...rest] = linear.inputs;
    if (linear.op !== "linear" || read?.kind !== "value" || rest.some((o) => o.kind === "value" && o.id === read.id)) continue;
    const norm = byId.get(read.id);
    if (norm?.op !== "layerNorm" || norm.attrs.dims !== 1 || removed.has(norm.id)) continue;
    const [x, gamma, beta] = norm.inputs;
    const sizes = shapeReaders.get(norm.id) ?? [];
    if (x?.kind !== "value" || gamma === undefined || beta === undefined || readers.get(norm.id) !== 1 + sizes.length) continue;
    if (byId.get(x.id)?.format !== norm.format || linear.format !== norm.format) continue;
    removed.add(norm.id);
    for (const size of sizes) replaced.set(size.id, { ...size, inputs: [x], note: `${size.note ? `${size.note}; ` : ""}reads ${norm.id}'s input (the same shape): ${norm.id} is fused into ${linear.id}` });
    const { activation } = linear.attrs;
    replaced.set(linear.id, {
      ...linear,
      op: "layerNormLinear",
      inputs: [x, gamma, beta, ...linear.inputs.slice(1)],
      attrs: { eps: norm.attrs.eps, ...(activation === undefined ? {} : { activation }) },
      nodes: [...norm.nodes, ...linear.nodes],
      note: `${linear.note ? `${linear.note}; ` : ""}layer norm fused (normalized as the product loads its rows)`,
    });
  }
  if (removed.size === 0) return program;
  return { ...program, instructions: rewritten(program.instructions, removed, replaced) };
}
