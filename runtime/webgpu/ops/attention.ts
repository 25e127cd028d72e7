import { attention as tfjsAttention, multiHeadAttention as tfjsMultiHeadAttention } from "../../ops/attention.js";
import { packedHeads } from "../../ops/support/attention.js";
import { tf, type Tensor, type Tensor3D } from "../../ops/tf.js";
import { ownKernelApplies, runProgram, type WebgpuProgram } from "../program.js";
import { LOWEST_F32, ROW_DISPATCH_LAYOUT, WORKGROUP_INDEX, wgslFloat, workgroupsFor } from "../rows.js";

/**
 * Scaled dot-product attention as one WGSL kernel (runtime/ops/attention.ts's four calls
 * otherwise): a workgroup per (batch·head, block of query rows), one invocation per query row
 * holding its q and its output row in registers; keys and values stream through workgroup
 * memory a tile at a time, and an online softmax (running max and sum, the accumulator rescaled
 * when the max grows) means the [tokens, keys] scores never reach memory. Accumulators are f32.
 * Token counts, head dims and the scale are shader constants; the number of batch·heads is read
 * at run time. The same kernel reads torch's packed in-projection product [B, T, 3E] directly
 * (multiHeadAttention): q, k and v at their column blocks' and heads' offsets, the result written
 * as [B, T, E], so the head split and merge cost no transposes.
 */

/** Query rows per workgroup (one invocation each). */
const QUERY_BLOCK = 64;

/** WebGPU's guaranteed maxComputeWorkgroupStorageSize, which the key and value tiles share. */
const WORKGROUP_BYTES = 16384;

/** How the kernel covers one attention of these sizes. */
export interface AttentionPlan {
  readonly queries: number;
  readonly keys: number;
  readonly headDim: number;
  readonly valueDim: number;
  /** Keys per tile through workgroup memory: a power of two, up to 64, that fits the memory. */
  readonly keyBlock: number;
}

/**
 * The plan for q [...batch, T, D], kᵀ [...batch, D, S], v [...batch, S, Dv], or undefined where
 * the kernel does not apply: batch dims that differ (broadcasting), head dims not a multiple of 4
 * (vec4 loads), or so wide that fewer than 4 keys fit a tile.
 */
export function attentionPlan(q: readonly number[], keysTransposed: readonly number[], values: readonly number[]): AttentionPlan | undefined {
  const rank = q.length;
  if (rank < 3 || keysTransposed.length !== rank || values.length !== rank) return undefined;
  const batch = q.slice(0, -2).join();
  if (keysTransposed.slice(0, -2).join() !== batch || values.slice(0, -2).join() !== batch) return undefined;
  const [queries, headDim] = q.slice(-2) as [number, number];
  const [depth, keys] = keysTransposed.slice(-2) as [number, number];
  const [keyRows, valueDim] = values.slice(-2) as [number, number];
  if (depth !== headDim || keyRows !== keys || headDim % 4 !== 0 || valueDim % 4 !== 0 || q.some((d) => d === 0) || keys === 0 || valueDim === 0) return undefined;
  const fitting = Math.floor(WORKGROUP_BYTES / (4 * (headDim + valueDim)));
  const keyBlock = Math.min(64, 2 ** Math.floor(Math.log2(Math.max(1, fitting))));
  return keyBlock >= 4 ? { queries, keys, headDim, valueDim, keyBlock } : undefined;
}

/**
 * How the kernel finds head `head`'s q row, key and value `token` (head dims 4c..4c+3) and
 * where it writes its result: WGSL functions over the bound buffers, and the batch·heads count.
 * Separate operands: Q [heads, T, D] and V [heads, S, Dv] as vec4s, kᵀ [heads, D, S] as floats
 * (four rows make a key's vec4), the result [heads, T, Dv]. Packed (`heads` H per batch item):
 * QKV [B, T, 3E] as vec4s, q | k | v its E-wide blocks of H heads each, the result [B, T, E].
 */
function operandAccess(packedHeads: number | undefined): string {
  if (packedHeads === undefined) {
    return `
  fn headCount() -> i32 { return uniforms.outShape[0]; }
  fn loadQ(head : i32, token : i32, c : i32) -> vec4<f32> { return Q[(head * T + token) * C + c]; }
  fn loadK(head : i32, token : i32, c : i32) -> vec4<f32> {
    let at = (head * C * 4 + 4 * c) * S + token;
    return vec4<f32>(KT[at], KT[at + S], KT[at + 2 * S], KT[at + 3 * S]);
  }
  fn loadV(head : i32, token : i32, c : i32) -> vec4<f32> { return V[(head * S + token) * CV + c]; }
  fn store(head : i32, token : i32, c : i32, value : vec4<f32>) { result[(head * T + token) * CV + c] = value; }`;
  }
  // One token's row of the packed product is 3 blocks of H heads of C vec4s; of the result, one block.
  return `
  const H : i32 = ${packedHeads};
  fn headCount() -> i32 { return uniforms.outShape[0] * H; }
  fn packedAt(head : i32, token : i32, block : i32, c : i32) -> i32 { return ((head / H) * T + token) * 3 * H * C + (block * H + head % H) * C + c; }
  fn loadQ(head : i32, token : i32, c : i32) -> vec4<f32> { return QKV[packedAt(head, token, 0, c)]; }
  fn loadK(head : i32, token : i32, c : i32) -> vec4<f32> { return QKV[packedAt(head, token, 1, c)]; }
  fn loadV(head : i32, token : i32, c : i32) -> vec4<f32> { return QKV[packedAt(head, token, 2, c)]; }
  fn store(head : i32, token : i32, c : i32, value : vec4<f32>) { result[((head / H) * T + token) * H * C + (head % H) * C + c] = value; }`;
}

/** The WGSL body for one plan and scale, over separate operands or (`packedHeads` heads per batch item) torch's packed q|k|v product; see operandAccess. */
export function attentionShader(plan: AttentionPlan, scale: number, packedHeads?: number): string {
  const { queries, keys, keyBlock } = plan;
  const blocks = Math.ceil(queries / QUERY_BLOCK);
  const raggedQueries = queries % QUERY_BLOCK !== 0;
  const raggedKeys = keys % keyBlock !== 0;
  const qVectors = plan.headDim / 4;
  const vVectors = plan.valueDim / 4;
  // Keys past the end (the last tile's) load key S - 1 and score the lowest float: exp gives them weight 0.
  const key = raggedKeys ? "min(s0 + j, S - 1)" : "s0 + j";
  return `
  const T : i32 = ${queries};
  const S : i32 = ${keys};
  const C : i32 = ${qVectors};
  const CV : i32 = ${vVectors};
  const BQ : i32 = ${QUERY_BLOCK};
  const BK : i32 = ${keyBlock};
  const BLOCKS : i32 = ${blocks};
  const SCALE : f32 = ${wgslFloat(scale)};
  // keyTile[c * BK + j]: head dims 4c..4c+3 of key j of the tile; valueTile[j * CV + c]: of value j.
  var<workgroup> keyTile : array<vec4<f32>, ${qVectors * keyBlock}>;
  var<workgroup> valueTile : array<vec4<f32>, ${keyBlock * vVectors}>;
${operandAccess(packedHeads)}

  fn main() {
    let heads = headCount();
    let group = ${WORKGROUP_INDEX};
    // Workgroups past the last head (a 2-D dispatch's remainder) and rows past the last query still load tiles and reach every barrier; they write nothing.
    let inHeads = group / BLOCKS < heads;
    let head = select(0, group / BLOCKS, inHeads);
    let tid = i32(localId.x);
    let query = (group % BLOCKS) * BQ + tid;
    let inQueries = ${raggedQueries ? "query < T" : "true"};
    let queryRow = ${raggedQueries ? "min(query, T - 1)" : "query"};
    var q : array<vec4<f32>, C>;
    for (var c = 0; c < C; c = c + 1) {
      q[c] = loadQ(head, queryRow, c) * SCALE;
    }
    var acc : array<vec4<f32>, CV>;
    var runningMax = ${LOWEST_F32};
    var runningSum = 0.0;
    for (var s0 = 0; s0 < S; s0 = s0 + BK) {
      for (var e = tid; e < C * BK; e = e + BQ) {
        let c = e / BK;
        let j = e % BK;
        keyTile[e] = loadK(head, ${key}, c);
      }
      for (var e = tid; e < BK * CV; e = e + BQ) {
        let j = e / CV;
        let c = e % CV;
        valueTile[e] = loadV(head, ${key}, c);
      }
      workgroupBarrier();
      var scores : array<f32, BK>;
      var tileMax = runningMax;
      for (var j = 0; j < BK; j = j + 1) {
        var score = 0.0;
        for (var c = 0; c < C; c = c + 1) {
          score = score + dot(q[c], keyTile[c * BK + j]);
        }
        ${raggedKeys ? `score = select(${LOWEST_F32}, score, s0 + j < S);` : ""}
        scores[j] = score;
        tileMax = max(tileMax, score);
      }
      // The softmax so far was taken against the old max: rescale it to the new one.
      let correction = exp(runningMax - tileMax);
      runningSum = runningSum * correction;
      for (var c = 0; c < CV; c = c + 1) {
        acc[c] = acc[c] * correction;
      }
      for (var j = 0; j < BK; j = j + 1) {
        let p = exp(scores[j] - tileMax);
        runningSum = runningSum + p;
        for (var c = 0; c < CV; c = c + 1) {
          acc[c] = fma(vec4<f32>(p), valueTile[j * CV + c], acc[c]);
        }
      }
      runningMax = tileMax;
      workgroupBarrier();
    }
    if (inHeads && inQueries) {
      for (var c = 0; c < CV; c = c + 1) {
        store(head, query, c, acc[c] / runningSum);
      }
    }
  }
  `;
}

class AttentionProgram implements WebgpuProgram {
  readonly variableNames: string[];
  readonly variableComponents: number[];
  outputComponent = 4;
  readonly workgroupSize: [number, number, number] = [QUERY_BLOCK, 1, 1];
  readonly dispatchLayout = ROW_DISPATCH_LAYOUT;
  readonly dispatch: [number, number, number];
  readonly shaderKey: string;
  readonly outputShape: number[];

  /** Over `batchHeads` separate heads, or (`packedHeads` given) `batchHeads` / packedHeads batch items of the packed product. */
  constructor(
    batchHeads: number,
    private readonly plan: AttentionPlan,
    private readonly scale: number,
    private readonly packedHeads?: number,
  ) {
    const packed = packedHeads !== undefined;
    this.variableNames = packed ? ["QKV"] : ["Q", "KT", "V"];
    this.variableComponents = packed ? [4] : [4, 1, 4];
    this.outputShape = packed ? [batchHeads / packedHeads, plan.queries * plan.valueDim * packedHeads] : [batchHeads, plan.queries * plan.valueDim];
    this.dispatch = workgroupsFor(batchHeads * Math.ceil(plan.queries / QUERY_BLOCK));
    this.shaderKey = `fxcAttention_${plan.queries}_${plan.keys}_${plan.headDim}_${plan.valueDim}_${plan.keyBlock}_${scale}${packed ? `_packed${packedHeads}` : ""}`;
  }

  getUserCode(): string {
    return attentionShader(this.plan, this.scale, this.packedHeads);
  }
}

/** softmax(q·kᵀ·scale)·v: fxc's one kernel on webgpu, tfjs's four calls elsewhere or where the plan does not apply. */
export function attention(q: Tensor, keysTransposed: Tensor, values: Tensor, attrs: { readonly scale: number }): Tensor {
  const plan = attentionPlan(q.shape, keysTransposed.shape, values.shape);
  if (!ownKernelApplies(q, keysTransposed, values) || plan === undefined || !Number.isFinite(attrs.scale)) return tfjsAttention(q, keysTransposed, values, attrs);
  const heads = q.size / (plan.queries * plan.headDim);
  return tf.tidy(() => {
    const operands = [tf.reshape(q, [heads, plan.queries * plan.headDim]), tf.reshape(keysTransposed, [heads, plan.headDim * plan.keys]), tf.reshape(values, [heads, plan.keys * plan.valueDim])];
    const out = runProgram(new AttentionProgram(heads, plan, attrs.scale), operands);
    return tf.reshape(out, [...q.shape.slice(0, -1), plan.valueDim]);
  });
}

/**
 * runtime/ops's multiHeadAttention (same signature): the one kernel reading q, k and v where they
 * sit in the packed [B, T, 3E] product and writing [B, T, E], no split or transpose around it, on
 * webgpu where its plan applies; tfjs's kernels otherwise.
 */
export function multiHeadAttention(qkv: Tensor, attrs: { readonly heads: number; readonly scale: number }): Tensor3D {
  const { batch, tokens, embed, headDim } = packedHeads(qkv.shape, attrs.heads);
  const headShape = [batch, attrs.heads, tokens, headDim];
  const plan = attentionPlan(headShape, [batch, attrs.heads, headDim, tokens], headShape);
  if (!ownKernelApplies(qkv) || plan === undefined || !Number.isFinite(attrs.scale)) return tfjsMultiHeadAttention(qkv, attrs);
  return tf.tidy(() => {
    const out = runProgram(new AttentionProgram(batch * attrs.heads, plan, attrs.scale, attrs.heads), [tf.reshape(qkv, [batch, tokens * 3 * embed])]);
    return tf.reshape(out, [batch, tokens, embed]);
  });
}
