import type { AbstractValue, Dim } from "../graph/value.js";
import type { Instruction, Program, ProgramOutput } from "../graph/program.js";

/**
 * Frees a program's input height and width where the network allows it (a fully convolutional
 * extractor): the program is built again at two other sizes, and when the three lowered programs
 * are the same but for the input's height and width (every kernel's attributes, operands and
 * parameters alike), no constant of the program depends on the size, and the kernels (which
 * read their input's shape at run time on every engine) run it at any size. Where a constant
 * varies (a reshape target after a flatten, ViT's positional embedding, an adaptive pooling's
 * window written as a fixed one), the program keeps its compiled size.
 *
 * The sizes probed are not multiples of the compile size's strides, nor of each other, so that a
 * constant that depends on the parity or the remainder of the size (an odd size's padding) varies
 * too. The smallest size the network takes is found by tracing (shape inference throws below it).
 */

/** Builds the same extractor at another input size, and says whether the model traces at one. */
export interface SizeProbe {
  /** The program at that size; undefined where the model does not take it. */
  build(size: readonly [number, number]): Program | undefined;
  traces(size: readonly [number, number]): boolean;
}

/** Height and width offsets of the two other sizes built: odd, coprime, not multiples of any stride. */
const PROBE_OFFSETS: readonly (readonly [number, number])[] = [
  [37, 19],
  [67, 101],
];

/** The program with free height and width (`freeSize`, the input op's shape), or as it is when its constants depend on the size. */
export function freeSpatialSize(program: Program, probe: SizeProbe): Program {
  if (program.inputShapes !== undefined || !isImage(program.inputShape)) return program;
  const [, , h, w] = program.inputShape as [Dim, number, number, number];
  const sizes = PROBE_OFFSETS.map(([dh, dw]) => [h + dh, w + dw] as const);
  const others: Program[] = [];
  for (const size of sizes) {
    const other = probe.traces(size) ? probe.build(size) : undefined;
    if (other === undefined) return program;
    others.push(other);
  }
  const signature = programSignature(program);
  if (!others.every((o) => programSignature(o) === signature)) return program;
  const minimum = [smallestAccepted(h, (x) => probe.traces([x, w])), smallestAccepted(w, (x) => probe.traces([h, x]))] as const;
  const at = [[h, w] as const, ...sizes];
  const outputs = program.outputs.map((o, k): ProgramOutput => {
    const symbolic = symbolicValue([o.value, ...others.map((p) => p.outputs[k]!.value)], at);
    return symbolic === undefined ? o : { ...o, symbolicShape: symbolic };
  });
  const instructions = program.instructions.map((ins): Instruction => {
    if (ins.op !== "input") return ins;
    const [c] = ins.attrs.shape;
    return { ...ins, attrs: { ...ins.attrs, shape: [c ?? null, null, null], minimum: [...minimum] } };
  });
  return { ...program, instructions, outputs, freeSize: { compiled: [h, w], minimum } };
}

const isImage = (shape: readonly Dim[]): boolean => shape.length === 4 && shape[0] === "N" && shape.slice(1).every((d) => typeof d === "number");

/** What must be equal for two builds to be one program: every instruction but the input's height and width, the params and outputs, without shapes. */
function programSignature(program: Program): string {
  const instructions = program.instructions.map((ins) => {
    const attrs = ins.op === "input" ? { ...ins.attrs, shape: ins.attrs.shape.slice(0, 1) } : ins.attrs;
    return { id: ins.id, op: ins.op, inputs: ins.inputs, attrs, format: ins.format };
  });
  const outputs = program.outputs.map((o) => ({ key: o.key, node: o.node, operand: o.operand, format: o.format }));
  return JSON.stringify({ instructions, params: program.params, checkpoint: program.checkpoint, outputs });
}

/** The smallest size in [1, compiled] that the model takes, by bisection (taking a size, it takes every larger one). */
function smallestAccepted(compiled: number, takes: (size: number) => boolean): number {
  // Most networks take a single pixel (every convolution padded): one trace then.
  if (takes(1)) return 1;
  let [low, high] = [2, compiled];
  while (low < high) {
    const mid = Math.floor((low + high) / 2);
    if (takes(mid)) high = mid;
    else low = mid + 1;
  }
  return low;
}

/** A tensor output's torch-order dims as the docs write them (`⌈H/4⌉`), from its shapes at the sizes built; undefined for other values. */
function symbolicValue(values: readonly AbstractValue[], sizes: readonly (readonly [number, number])[]): readonly (number | string)[] | undefined {
  const [first] = values;
  if (first?.kind !== "tensor") return undefined;
  const axes = { H: sizes.map(([h]) => h), W: sizes.map(([, w]) => w) };
  let varying = 0;
  const dims = first.shape.map((d, i) => {
    const seen = values.map((v) => (v.kind === "tensor" ? v.shape[i]! : d));
    if (seen.every((s) => s === d)) return d;
    // The first varying dim is the height and the next the width, as in [N, C, H, W] and Swin's [N, H, W, C].
    const axis = varying++ === 0 ? "H" : "W";
    return { exact: exactDim(seen, axes.H, "H") ?? exactDim(seen, axes.W, "W"), rough: roughDim(seen, axes[axis], axis) };
  });
  // One rule for both axes: where one is only roughly a stride (Swin's ⌈⌊H/4⌋/8⌉), the other is said roughly too.
  const exact = dims.every((d) => typeof d !== "object" || d.exact !== undefined);
  return dims.map((d) => (typeof d !== "object" ? d : exact ? d.exact! : d.rough));
}

/**
 * `H`, `⌈H/4⌉` (strided convolutions with padding round up) or `⌊H/4⌋` (without, down), where the
 * dim is the axis's size over one stride, a power of two as the networks' strides are, at every
 * size built (a pooled level is ⌈H/64⌉, though ⌈H/56⌉ fits too at some sizes).
 */
function exactDim(dims: readonly Dim[], sizes: readonly number[], axis: "H" | "W"): string | undefined {
  if (dims.some((d) => typeof d !== "number")) return undefined;
  const fits = (stride: number, round: (x: number) => number): boolean => dims.every((d, k) => d === round(sizes[k]! / stride));
  for (let stride = 1; stride <= sizes[0]!; stride *= 2) {
    if (stride === 1 && fits(1, Math.floor)) return axis;
    if (fits(stride, Math.ceil)) return `⌈${axis}/${stride}⌉`;
    if (fits(stride, Math.floor)) return `⌊${axis}/${stride}⌋`;
  }
  return undefined;
}

/** `~H/32` for a dim that follows the axis but not as one stride (convolutions without padding): the nearest power of two of the ratio. */
function roughDim(dims: readonly Dim[], sizes: readonly number[], axis: "H" | "W"): string {
  const d0 = dims[0];
  if (typeof d0 !== "number" || d0 < 1) return "?";
  const stride = 2 ** Math.round(Math.log2(sizes[0]! / d0));
  return stride === 1 ? `~${axis}` : `~${axis}/${stride}`;
}
