import type { Node } from "../graph/node.js";
import type { Dim } from "../graph/value.js";
import { TRACED, type IntLike, type Tensor } from "../../models/nn/tensor.js";
import { TraceError, type Tracer } from "./tracer.js";
import { userFrame } from "./userFrame.js";

/**
 * A traced value, as torch.fx's Proxy: a tensor or a Python value (shape, int, tuple)
 * computed from the input. Methods record `call_method` nodes; `shape` records `getattr`.
 * The module library's `Tensor`, as the tracer implements it.
 */
export class Proxy implements Tensor {
  constructor(
    readonly node: Node,
    readonly tracer: Tracer,
  ) {}

  get [TRACED](): true {
    return true;
  }

  get staticShape(): readonly Dim[] | undefined {
    return this.node.value.kind === "tensor" ? this.node.value.shape : undefined;
  }

  /** `x.shape`: a `getattr` node, then `getitem` nodes when indexed or unpacked. */
  get shape(): Proxy {
    return this.tracer.record("call_function", "getattr", [this, "shape"], {}) as Proxy;
  }

  /** Unpacking (`const [n, c, h, w] = x.shape`) records one `getitem` per element taken. */
  *[Symbol.iterator](): Iterator<Proxy> {
    for (let i = 0; ; i++) yield this.tracer.record("call_function", "getitem", [this, i], {}) as Proxy;
  }

  private method(name: string, args: readonly unknown[], kwargs: Readonly<Record<string, unknown>> = {}): Proxy {
    return this.tracer.record("call_method", name, [this, ...args], kwargs) as Proxy;
  }

  dim(): Proxy {
    return this.method("dim", []);
  }
  size(dim?: number): Proxy {
    return this.method("size", dim === undefined ? [] : [dim]);
  }
  view(...shape: IntLike[]): Proxy {
    return this.method("view", shape);
  }
  reshape(...shape: IntLike[]): Proxy {
    return this.method("reshape", shape);
  }
  permute(...dims: number[]): Proxy {
    return this.method("permute", dims);
  }
  transpose(dim0: number, dim1: number): Proxy {
    return this.method("transpose", [dim0, dim1]);
  }
  flatten(startDim = 0, endDim = -1): Proxy {
    return this.method("flatten", [startDim, endDim]);
  }
  contiguous(): Proxy {
    return this.method("contiguous", []);
  }
  /** `x.float()`: every traced tensor is float32 already, so it changes nothing at run time. */
  float(): Proxy {
    return this.method("float", []);
  }
  /** `x.mean()` over every dim (a 0-d tensor), or over `dim`. */
  mean(dim?: number | readonly number[], keepdim = false): Proxy {
    return this.method("mean", dim === undefined ? [] : [dim, keepdim]);
  }
  expand(...sizes: IntLike[]): Proxy {
    return this.method("expand", sizes);
  }
  unsqueeze(dim: number): Proxy {
    return this.method("unsqueeze", [dim]);
  }
  squeeze(dim?: number): Proxy {
    return this.method("squeeze", dim === undefined ? [] : [dim]);
  }
  softmax(dim: number): Proxy {
    return this.method("softmax", [dim]);
  }
  chunk(chunks: number, dim = 0): Proxy {
    return this.method("chunk", [chunks, dim]);
  }
  sigmoid(): Proxy {
    return this.method("sigmoid", []);
  }
  relu(): Proxy {
    return this.method("relu", []);
  }
  add(other: Tensor | number): Proxy {
    return this.method("add", [other]);
  }
  sub(other: Tensor | number): Proxy {
    return this.method("sub", [other]);
  }
  mul(other: Tensor | number): Proxy {
    return this.method("mul", [other]);
  }

  /**
   * Formatting a value records nothing, as in torch.fx. Shapes are static here, so a known
   * int or shape reads as torch would print it when running (`224`, `torch.Size([N, 3, 224, 224])`):
   * an assertion message that formats `h` names the size. Anything else reads as fx's repr.
   */
  toString(): string {
    const v = this.node.value;
    if (v.kind === "int" || v.kind === "float") return String(v.value);
    if (v.kind === "bool") return v.value ? "True" : "False";
    if (v.kind === "size") return `torch.Size([${v.dims.join(", ")}])`;
    return `Proxy(${this.node.name})`;
  }

  /**
   * A traced value used as a JavaScript number or in a comparison (`if (x.mean() > 0)`, `h * 2`)
   * has no value while tracing, as torch.fx's "symbolically traced variables cannot be used as
   * inputs to control flow": one line naming the node and the user's line, and the ways out.
   * Formatting (`${h}`) stays toString's.
   */
  [Symbol.toPrimitive](hint: "string" | "number" | "default"): string {
    if (hint === "string") return this.toString();
    const where = userFrame(new Error().stack);
    throw new TraceError(
      `node '${this.node.qualname ?? this.node.name}' (a traced ${this.node.value.kind}) is used as a plain ${hint === "number" ? "number" : "value"}${where === undefined ? "" : ` at ${where}`}, which tracing cannot follow (data-dependent control flow): the compiled module has no branch on data; compute it with tensor ops and F functions instead`,
      this.node.qualname ?? this.node.name,
      false,
    );
  }
}

/**
 * A traced dict (a leaf's OrderedDict, as FeaturePyramidNetwork returns) as forward code reads
 * it: `out["0"]` records a `getitem` node, as torch.fx does, and `Object.keys(out)` lists the
 * keys without recording anything. Everything else (passing it on, returning it) is the dict's
 * own node. A key that is also a Proxy member (`size`, `shape`) reads the member: use
 * `F.getitem(out, key)` for it.
 */
export function dictView(p: Proxy, keys: readonly string[]): Proxy {
  const isKey = (prop: string | symbol, target: Proxy): prop is string => typeof prop === "string" && keys.includes(prop) && !(prop in target);
  return new globalThis.Proxy(p, {
    get: (target, prop) => (isKey(prop, target) ? target.tracer.record("call_function", "getitem", [target, prop], {}) : Reflect.get(target, prop, target)),
    has: (target, prop) => isKey(prop, target) || Reflect.has(target, prop),
    ownKeys: () => [...keys],
    getOwnPropertyDescriptor: (target, prop) => (isKey(prop, target) ? { enumerable: true, configurable: true, writable: false, value: undefined } : undefined),
  });
}
