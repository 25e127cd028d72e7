import type { Module } from "../../models/nn/module.js";
import type { Proxy } from "./proxy.js";
import type { Buffer, Parameter } from "../../models/nn/parameter.js";

/** What modules and ops call while a forward is being traced. */
export interface TracingContext {
  callModule(module: Module, args: readonly unknown[]): unknown;
  /** Records an op whose traced input is a parameter read directly (`self.table[index]`). */
  record(kind: "call_function" | "call_method", target: string, args: readonly unknown[], kwargs: Readonly<Record<string, unknown>>): Proxy;
  /** A parameter read in forward code, as a traced value recorded at the read. */
  readAttribute(t: Parameter | Buffer): unknown;
  /** A function wrapped with `wrap`: one node, its body traced to compile it. */
  callWrapped(name: string, fn: (...args: never[]) => unknown, args: readonly unknown[]): unknown;
}

let active: TracingContext | undefined;

/** The tracer now running; models run only under tracing, never eagerly. */
export function activeTracer(action: string): TracingContext {
  if (active === undefined) {
    throw new Error(`cannot ${action} outside tracing: fxc models are run by compiling them (trace, createFeatureExtractor, compile)`);
  }
  return active;
}

/** Runs `fn` with `tracer` active, restoring the previous one after. */
export function withTracer<T>(tracer: TracingContext, fn: () => T): T {
  const previous = active;
  active = tracer;
  try {
    return fn();
  } finally {
    active = previous;
  }
}
