import { Module } from "./module.js";
import type { Tensor } from "./tensor.js";

/** torch.nn.Sequential: children named "0", "1", ... or by the given names; never a leaf. */
export class Sequential extends Module {
  constructor(...modules: Module[] | [Record<string, Module>]) {
    super();
    const named: [string, Module][] =
      modules.length === 1 && !(modules[0] instanceof Module)
        ? Object.entries(modules[0] as Record<string, Module>)
        : (modules as Module[]).map((m, i) => [String(i), m]);
    for (const [name, m] of named) (this as unknown as Record<string, Module>)[name] = m;
  }

  /** The children in order. */
  get layers(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /** `seq[i]`, as torch's indexing. */
  at(i: number): Module {
    const layers = this.layers;
    const m = layers[i < 0 ? i + layers.length : i];
    if (m === undefined) throw new RangeError(`index ${i} is out of range for a Sequential of ${layers.length}`);
    return m;
  }

  get length(): number {
    return this.namedChildren().length;
  }

  /** Adds a child under `name`, as `add_module`. */
  addModule(name: string, m: Module): void {
    (this as unknown as Record<string, Module>)[name] = m;
  }

  forward(x: Tensor): Tensor {
    for (const m of this.layers) x = m.call(x as never) as Tensor;
    return x;
  }
}

/** torch.nn.ModuleList: holds children "0", "1", ...; it is not called itself. */
export class ModuleList<M extends Module = Module> extends Module {
  constructor(modules: readonly M[] = []) {
    super();
    modules.forEach((m, i) => ((this as unknown as Record<string, Module>)[String(i)] = m));
  }

  get items(): M[] {
    return this.namedChildren().map(([, m]) => m as M);
  }

  forward(): never {
    throw new Error("ModuleList is not callable; call its items");
  }
}
