import type { Dim } from "./shape.js";

/** Marks the values a tracer hands to model code, so that the library tells them from plain Python values. */
export const TRACED: unique symbol = Symbol("fxc.traced");

/** An int argument: a literal, or a traced int such as `x.shape[0]`. */
export type IntLike = number | Tensor;

/**
 * What model code handles: a traced value, as torch.fx's Proxy is to torch code. Mostly a
 * tensor, but also a Python value computed from the input (a shape, an int, a tuple). Methods
 * record `call_method` nodes; `shape` records `getattr`. The tracer (compiler/trace/proxy.ts)
 * implements it; the module library only declares it, as torch's nn.Module knows nothing of fx.
 */
export interface Tensor {
  readonly [TRACED]: true;
  /** `x.shape`: a `getattr` node, then `getitem` nodes when indexed or unpacked. */
  readonly shape: Tensor;
  /**
   * The shape inferred while tracing (static but for the batch), `undefined` for a value that
   * is not a tensor. Reading it records no node: for a model's own checks at compile time.
   */
  readonly staticShape: readonly Dim[] | undefined;
  /** Unpacking (`const [n, c, h, w] = x.shape`) records one `getitem` per element taken. */
  [Symbol.iterator](): Iterator<Tensor>;
  dim(): Tensor;
  size(dim?: number): Tensor;
  view(...shape: IntLike[]): Tensor;
  reshape(...shape: IntLike[]): Tensor;
  permute(...dims: number[]): Tensor;
  transpose(dim0: number, dim1: number): Tensor;
  flatten(startDim?: number, endDim?: number): Tensor;
  contiguous(): Tensor;
  /** `x.float()`: every traced tensor is float32 already, so it changes nothing at run time. */
  float(): Tensor;
  /** `x.mean()` over every dim (a 0-d tensor), or over `dim`. */
  mean(dim?: number | readonly number[], keepdim?: boolean): Tensor;
  expand(...sizes: IntLike[]): Tensor;
  unsqueeze(dim: number): Tensor;
  squeeze(dim?: number): Tensor;
  softmax(dim: number): Tensor;
  chunk(chunks: number, dim?: number): Tensor;
  sigmoid(): Tensor;
  relu(): Tensor;
  add(other: Tensor | number): Tensor;
  sub(other: Tensor | number): Tensor;
  mul(other: Tensor | number): Tensor;
  /** A known int or shape as torch prints it when running (`224`, `torch.Size([N, 3, 224, 224])`); records nothing. */
  toString(): string;
}

/** Whether `value` is a traced value, or an array holding one at any depth. */
export function containsTraced(value: unknown): boolean {
  if (typeof value === "object" && value !== null && TRACED in value) return true;
  return Array.isArray(value) && value.some(containsTraced);
}
