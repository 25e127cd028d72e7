import type * as tfjsOps from "./ops/index.js";
import type { Tensor } from "./ops/tf.js";

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

/** The attributes a kernel takes (its last parameter), as lowering must write them. */
export type KernelAttrs<K extends KernelName> = TfjsKernels[K] extends (...args: infer A) => unknown ? (A extends readonly [...unknown[], infer Last] ? Last : never) : never;

/** `T` with every tfjs tensor in it replaced by an engine's value type `V`. */
export type OverValue<T, V> = T extends Tensor ? V : T extends readonly (infer U)[] ? readonly OverValue<U, V>[] : T;

/** A kernel's signature over an engine's value type. */
export type KernelOver<F, V> = F extends (...args: infer A) => infer R ? (...args: { [I in keyof A]: OverValue<A[I], V> }) => OverValue<R, V> : never;

/** Every kernel, implemented over an engine's value type `V`. */
export type KernelTable<V> = { readonly [K in KernelName]: KernelOver<TfjsKernels[K], V> };
