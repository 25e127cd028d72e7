import type { CustomOpAttrs } from "@fxc/runtime/internal/ops/support/custom";
import type { Module } from "./module.js";
import type { Buffer, Parameter } from "./parameter.js";
import type { Tensor } from "./tensor.js";

/**
 * What the module library asks of whatever runs its models. torch's nn.Module knows nothing of
 * torch.fx: fx's Tracer patches `Module.__call__` and torch's functions from outside while it
 * traces (torch/fx/_symbolic_trace.py). Here the tracer (compiler/trace/tracer.ts) implements
 * this interface and installs itself with `withDispatcher` for the length of a trace; modules
 * (`module.call(x)`) and the functional API (`F`) go through it and never name the tracer.
 */
export interface Dispatcher {
  /** `module(*args)`: a leaf becomes one node, any other module runs its forward inline. */
  callModule(module: Module, args: readonly unknown[]): unknown;
  /** A torch function or Python operator (`torch.flatten`, `operator.add`) of registered op `target`. */
  callFunction(target: string, args: readonly unknown[], kwargs: Readonly<Record<string, unknown>>): Tensor;
  /** A tensor method of registered op `target` whose `self` (`args[0]`) may be a parameter (`self.class_token.expand(...)`). */
  callMethod(target: string, args: readonly unknown[], kwargs: Readonly<Record<string, unknown>>): Tensor;
  /** A parameter read in forward code, as a traced value recorded at the read. */
  readAttribute(t: Parameter | Buffer): Tensor;
  /** A function wrapped with `F.wrap`: one node, its body traced to compile it. */
  callWrapped(name: string, fn: (...args: never[]) => unknown, args: readonly unknown[]): unknown;
  /** An op defined with `F.defineOp`: one node named after it, its shape from the user's rule, its kernel the user's. */
  callUserOp(op: UserOpSpec, inputs: readonly Tensor[], attrs: CustomOpAttrs): Tensor;
  /** Marks 4-D `x` as not image-like, so it is kept in torch's order whatever the layout (`F.torchOrder`). */
  markTorchOrder(x: Tensor): void;
}

/** What the tracer needs of a user op: its name and its shape rule (shapes in torch's order, `null` for the free batch). */
export interface UserOpSpec {
  readonly name: string;
  shape(inputShapes: readonly (readonly (number | null)[])[], attrs: CustomOpAttrs): readonly (number | null)[];
}

let active: Dispatcher | undefined;

/** The dispatcher now installed; models run only under tracing, never eagerly. */
export function dispatcher(action: string): Dispatcher {
  if (active === undefined) {
    throw new Error(`cannot ${action} outside tracing: fxc models are run by compiling them (trace, createFeatureExtractor, compile)`);
  }
  return active;
}

/** Runs `fn` with `d` installed, restoring the previous dispatcher after, also when `fn` throws. */
export function withDispatcher<T>(d: Dispatcher, fn: () => T): T {
  const previous = active;
  active = d;
  try {
    return fn();
  } finally {
    active = previous;
  }
}
