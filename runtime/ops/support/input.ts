import { FxcError } from "../../errors.js";

/** The caller's input did not have the shape the extractor was compiled for. */
export class InputShapeError extends FxcError {
  override readonly name = "InputShapeError";
}

/** The input an input op reads: the caller's value, or its item `index` when the model takes several (every engine's). */
export function inputItem<T extends { readonly shape: readonly number[] }>(inputs: T | readonly T[], attrs: InputAttrs): T {
  if (attrs.index === undefined) {
    if (Array.isArray(inputs)) throw new InputShapeError(`the model takes one input, and ${inputs.length} were given; pass the tensor itself`);
    return inputs as T;
  }
  if (!Array.isArray(inputs) || inputs.length !== attrs.count) {
    throw new InputShapeError(`the model takes ${attrs.count} inputs, one per argument of forward; pass them as an array of ${attrs.count} tensors`);
  }
  return (inputs as readonly T[])[attrs.index]!;
}

/**
 * `layout` nhwc or nchw: an [N, C, H, W] image, `shape` its [C, H, W]. `layout` torch: any
 * other input, taken as torch has it, `shape` all its dims (`null` for a free batch).
 */
export type InputAttrs = {
  readonly layout: string;
  readonly shape: readonly (number | null)[];
  readonly index?: number;
  readonly count?: number;
  /** An image whose height and width are free (`null` in shape): the smallest the network takes. */
  readonly minimum?: readonly number[];
};

/** Every engine's input check: the caller's shape against the compiled one, in the compiled layout. */
export function checkInputShape(shape: readonly number[], attrs: InputAttrs): void {
  assertNonEmptyBatch(shape);
  if (attrs.layout === "torch") {
    const expected = attrs.shape.map((d) => d ?? "N");
    if (shape.length !== expected.length || expected.some((d, i) => d !== "N" && d !== shape[i])) {
      throw new InputShapeError(`input shape [${shape.join(", ")}] does not match the compiled [${expected.join(", ")}]; give that shape, or compile for this one (the inputShape option)`);
    }
    return;
  }
  const [c, h, w] = attrs.shape;
  const [height, width] = [h ?? "H", w ?? "W"];
  const expected = attrs.layout === "nchw" ? ["N", c, height, width] : ["N", height, width, c];
  const ok = shape.length === 4 && expected.every((d, i) => typeof d !== "number" || d === shape[i]);
  const channelAxis = attrs.layout === "nchw" ? 1 : 3;
  if (shape.length === 4 && c !== null && c !== undefined && shape[channelAxis] !== c) {
    throw new InputShapeError(
      `input shape [${shape.join(", ")}] has ${shape[channelAxis]} channel${shape[channelAxis] === 1 ? "" : "s"} where the model takes ${c} (${attrs.layout.toUpperCase()} [${expected.join(", ")}]); ` +
        `give ${c === 3 ? "RGB" : `${c}-channel`} input in this layout`,
    );
  }
  if (!ok) {
    throw new InputShapeError(
      `input shape [${shape.join(", ")}] does not match the compiled [${expected.join(", ")}] (${attrs.layout.toUpperCase()}); ` +
        `resize the input, or compile for this size with --size`,
    );
  }
  const [minHeight, minWidth] = attrs.minimum ?? [];
  const [inputHeight, inputWidth] = attrs.layout === "nchw" ? [shape[2]!, shape[3]!] : [shape[1]!, shape[2]!];
  if (minHeight !== undefined && minWidth !== undefined && (inputHeight < minHeight || inputWidth < minWidth)) {
    throw new InputShapeError(
      `input ${inputHeight}x${inputWidth} is smaller than the ${minHeight}x${minWidth} this network takes at least (its strides and kernels would leave nothing of a smaller one); ` +
        `give images of at least ${minHeight}x${minWidth} (resize or pad them)`,
    );
  }
}

/**
 * An empty batch (N = 0) is refused the same way on every backend (tfjs's WebAssembly kernels would
 * divide by zero, the others return empty tensors); worker pools check it before splitting the batch.
 */
export function assertNonEmptyBatch(shape: readonly number[]): void {
  if (shape.length > 0 && shape[0] === 0) {
    throw new InputShapeError(`input shape [${shape.join(", ")}] has an empty batch (N = 0); pass at least one image`);
  }
}
