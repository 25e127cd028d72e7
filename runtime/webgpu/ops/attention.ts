import { tf, type Tensor } from "../../ops/tf.js";
import { attention as tfjsAttention } from "../../ops/attention.js";
import { ownKernelApplies, runProgram, type WebgpuProgram } from "../program.js";
import { LOWEST_F32, ROW_DISPATCH_LAYOUT, WORKGROUP_INDEX, wgslFloat, workgroupsFor } from "../rows.js";

/**
 * Scaled dot-product attention as one WGSL kernel (runtime/ops/attention.ts's four calls
 * otherwise): a workgroup per (batch·head, block of query rows), one invocation per query row
 * holding its q and its output row in registers; keys and values stream through workgroup
 * memory a tile at a time, and an online softmax (running max and sum, the accumulator rescaled
 * when the max grows) means the [tokens, keys] scores never reach memory. Accumulators are f32.
 * Token counts, head dims and the scale are shader constants; the number of batch·heads is read
 * at run time.
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

/** The WGSL body for one plan and scale. Q and V are read as vec4s along the head dim, kᵀ as floats (four rows make a key's vec4). */
export function attentionShader(plan: AttentionPlan, scale: number): string {
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

  fn main() {
    let heads = uniforms.outShape[0];
    let group = ${WORKGROUP_INDEX};
    // Workgroups past the last head (a 2-D dispatch's remainder) and rows past the last query still load tiles and reach every barrier; they write nothing.
    let inHeads = group / BLOCKS < heads;
    let head = select(0, group / BLOCKS, inHeads);
    let tid = i32(localId.x);
    let query = (group % BLOCKS) * BQ + tid;
    let inQueries = ${raggedQueries ? "query < T" : "true"};
    let queryRow = head * T + ${raggedQueries ? "min(query, T - 1)" : "query"};
    var q : array<vec4<f32>, C>;
    for (var c = 0; c < C; c = c + 1) {
      q[c] = Q[queryRow * C + c] * SCALE;
    }
    var acc : array<vec4<f32>, CV>;
    var runningMax = ${LOWEST_F32};
    var runningSum = 0.0;
    let keyBase = head * C * 4 * S;
    let valueBase = head * S * CV;
    for (var s0 = 0; s0 < S; s0 = s0 + BK) {
      for (var e = tid; e < C * BK; e = e + BQ) {
        let c = e / BK;
        let j = e % BK;
        let kAt = keyBase + 4 * c * S + ${key};
        keyTile[e] = vec4<f32>(KT[kAt], KT[kAt + S], KT[kAt + 2 * S], KT[kAt + 3 * S]);
      }
      for (var e = tid; e < BK * CV; e = e + BQ) {
        let j = e / CV;
        let c = e % CV;
        valueTile[e] = V[valueBase + (${key}) * CV + c];
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
        result[(head * T + query) * CV + c] = acc[c] / runningSum;
      }
    }
  }
  `;
}

class AttentionProgram implements WebgpuProgram {
  readonly variableNames = ["Q", "KT", "V"];
  readonly variableComponents = [4, 1, 4];
  outputComponent = 4;
  readonly workgroupSize: [number, number, number] = [QUERY_BLOCK, 1, 1];
  readonly dispatchLayout = ROW_DISPATCH_LAYOUT;
  readonly dispatch: [number, number, number];
  readonly shaderKey: string;
  readonly outputShape: number[];

  constructor(
    heads: number,
    private readonly plan: AttentionPlan,
    private readonly scale: number,
  ) {
    this.outputShape = [heads, plan.queries * plan.valueDim];
    this.dispatch = workgroupsFor(heads * Math.ceil(plan.queries / QUERY_BLOCK));
    this.shaderKey = `fxcAttention_${plan.queries}_${plan.keys}_${plan.headDim}_${plan.valueDim}_${plan.keyBlock}_${scale}`;
  }

  getUserCode(): string {
    return attentionShader(this.plan, this.scale);
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
