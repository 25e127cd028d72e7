import type * as tfjsOps from "./ops/index.js";
import type { ShapeOfAttrs } from "./ops/python.js";
import type { Scalar, Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D, Tensor5D, Tensor6D } from "./ops/tf.js";

/**
 * The contract between the compiler and every engine: the kernels a lowered program may call,
 * declared once by the tfjs kernels' own signatures (runtime/ops). Lowering names kernels by
 * `KernelName`, the interpreter and generated modules call a `KernelTable`, and each other
 * engine implements `KernelTable<ItsValue>` in files named as runtime/ops's (runtime/onnx/ops),
 * so a kernel missing or misspelled anywhere fails tsc.
 */

type Callable = (...args: never[]) => unknown;
type Exported = typeof tfjsOps;

/** The tfjs kernels, by name (the ops barrel minus its non-kernel exports). */
export type TfjsKernels = { readonly [K in keyof Exported as Exported[K] extends Callable ? (Exported[K] extends abstract new (...args: never[]) => unknown ? never : K) : never]: Exported[K] };

/** A kernel a lowered instruction may call. */
export type KernelName = keyof TfjsKernels;

/** What a kernel without attributes takes for them: nothing, so any attribute written for it fails tsc. */
export type NoAttrs = { readonly [key: string]: never };

/**
 * The attributes a kernel takes (its last parameter, an object of plain values), as lowering
 * must write them; `NoAttrs` for a kernel whose last parameter is an operand (relu's tensor,
 * getitem's index). An overloaded kernel names its general attrs in `OverloadedAttrs`: tsc
 * reads only the last overload, which narrows them.
 */
export type KernelAttrs<K extends KernelName> = K extends keyof OverloadedAttrs ? OverloadedAttrs[K] : DeclaredAttrs<K>;

interface OverloadedAttrs {
  readonly shapeOf: ShapeOfAttrs;
}

type DeclaredAttrs<K extends KernelName> = TfjsKernels[K] extends (...args: infer A) => unknown
  ? Required<A> extends readonly [...unknown[], infer Last]
    ? AttrsOf<Last>
    : NoAttrs
  : never;

type AttrsOf<Last> = [Exclude<Last, undefined>] extends [Tensor | readonly unknown[] | number | string | boolean | null] ? NoAttrs : Exclude<Last, undefined>;

/** `T` with every tfjs tensor in it replaced by an engine's value type `V`. */
export type OverValue<T, V> = T extends Tensor ? V : T extends readonly (infer U)[] ? readonly OverValue<U, V>[] : T;

/** A kernel's signature over an engine's value type. */
export type KernelOver<F, V> = F extends (...args: infer A) => infer R ? (...args: { [I in keyof A]: OverValue<A[I], V> }) => OverValue<R, V> : never;

/** Every kernel, implemented over an engine's value type `V`. */
export type KernelTable<V> = { readonly [K in KernelName]: KernelOver<TfjsKernels[K], V> };

/** A tensor rank as generated code writes it: `ops.relu<4>(x)`. */
export type RankNumber = 0 | 1 | 2 | 3 | 4 | 5 | 6;

/** The tfjs tensor type of each rank. */
export interface TensorOfRank {
  0: Scalar;
  1: Tensor1D;
  2: Tensor2D;
  3: Tensor3D;
  4: Tensor4D;
  5: Tensor5D;
  6: Tensor6D;
}

/** The ranks a kernel's declared result allows: one where it returns a ranked type (conv2d: 4), any for a plain Tensor. */
type RanksOf<T extends Tensor> = { [N in RankNumber]: TensorOfRank[N] extends T ? N : never }[RankNumber];

/**
 * A kernel whose result a call may type by rank: `ops.relu<4>(x)` is a Tensor4D, `ops.conv2d<2>(...)`
 * is a type error (conv2d returns 4-D). Without a rank the call is typed as the kernel declares.
 */
type Ranked<F> = F extends (...args: infer A) => infer Result
  ? Result extends Tensor
    ? <N extends RanksOf<Result> = never>(...args: A) => [N] extends [never] ? Result : TensorOfRank[N]
    : F
  : never;

/** getitem of a list of tensors (split's parts) may be typed by rank too; of anything else, it is the item's type. */
interface RankedGetitem {
  <N extends RankNumber>(list: readonly Tensor[], index: number): TensorOfRank[N];
  <T>(list: readonly T[], index: number): T;
}

/**
 * The kernels as generated modules call them. The compiler knows every value's rank from its
 * static shapes and writes it on the calls whose results are features (`ops.relu<4>(x)`), so
 * that a module's `Features` are typed by rank without a cast. The same functions as
 * TfjsKernels: only their result types differ.
 */
export type RankedKernels = { readonly [K in KernelName]: K extends "getitem" ? RankedGetitem : Ranked<TfjsKernels[K]> };
