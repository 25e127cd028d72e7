import { tf } from "../ops/tf.js";

/**
 * How fxc's own WGSL kernels run on tfjs's webgpu backend: a kernel describes a program (its
 * shader body, the workgroups it dispatches) and tfjs-webgpu's program runner compiles it once per
 * `shaderKey`, binds the inputs and the output, and records the dispatch in its command stream
 * with tfjs's own kernels. The shader body sees tfjs's preamble: `uniforms.outShape`, the
 * inputs as read-only arrays named by `variableNames`, `result`, and `localId`/`workgroupId`.
 */

/** What tfjs-webgpu's program runner reads of a program (its WebGPUProgram, minus what fxc leaves unset). */
export interface WebgpuProgram {
  readonly outputShape: number[];
  /** Names the compiled pipeline: equal keys must mean equal sources (tfjs caches pipelines by it). */
  readonly shaderKey: string;
  readonly dispatchLayout: { x: number[]; y?: number[]; z?: number[] };
  readonly dispatch: [number, number, number];
  readonly variableNames: string[];
  readonly workgroupSize: [number, number, number];
  /** Per input, 4 to declare its buffer array<vec4<f32>> (read 4 values at a time), 1 for array<f32>. */
  readonly variableComponents?: number[];
  /** 4 to declare the result array<vec4<f32>> (written 4 values at a time), 1 (the default) for array<f32>. */
  readonly outputComponent?: number;
  /** Declare `uniforms.size`: the output's size in result elements (vec4s when outputComponent is 4). */
  readonly size?: boolean;
  getUserCode(): string;
}

/**
 * A WGSL module with its `enable` directives (the f16 GEMM's `enable f16;`) moved to the front:
 * WGSL wants them before any declaration, and tfjs-webgpu writes its preamble ahead of a program's
 * code, so a program writes the directive in its code and the device's createShaderModule hoists
 * it (runtime/webgpu/adapter.ts). A module without one is returned as it is.
 */
export function hoistEnableDirectives(code: string): string {
  const directives: string[] = [];
  const rest = code.replace(/^[ \t]*enable[ \t]+[\w \t,]+;[ \t]*$/gm, (directive) => {
    directives.push(directive.trim());
    return "";
  });
  return directives.length === 0 ? code : `${[...new Set(directives)].join("\n")}\n${rest}`;
}

/** The most workgroups WebGPU dispatches along one dimension (the guaranteed maxComputeWorkgroupsPerDimension). */
export const MAX_WORKGROUPS_PER_DIMENSION = 65535;

interface WebgpuBackend extends tf.KernelBackend {
  runWebGPUProgram(program: WebgpuProgram, inputs: tf.TensorInfo[], outputDtype: tf.DataType): tf.TensorInfo;
}

/** Runs `program` on the webgpu backend over `inputs`: a float32 tensor of its output shape. */
export function runProgram<T extends tf.Tensor>(program: WebgpuProgram, inputs: readonly tf.TensorInfo[]): T {
  const backend = tf.backend() as WebgpuBackend;
  const out = backend.runWebGPUProgram(program, [...inputs], "float32");
  return tf.engine().makeTensorFromTensorInfo(out) as T;
}

/**
 * Whether fxc's kernel may run here instead of tfjs's: on the webgpu backend, float32, and not
 * while tfjs records gradients (fxc's programs have none: training runs tfjs's kernels).
 */
export function ownKernelApplies(...operands: readonly (tf.Tensor | null | undefined)[]): boolean {
  if (tf.getBackend() !== "webgpu" || tf.engine().state.gradientDepth > 0) return false;
  return operands.every((t) => t == null || t.dtype === "float32");
}
