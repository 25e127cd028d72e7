import { Buffer, Parameter } from "./parameter.js";
import { elementCount } from "../../runtime/weights/dtype.js";
import { renameUnderPath, type KeyRename } from "../../runtime/weights/rename.js";
import { dispatcher } from "./dispatch.js";
import type { Tensor } from "./tensor.js";

/**
 * The base of every layer and model, as torch.nn.Module.
 *
 * Children, parameters and buffers are the object's own properties holding a Module,
 * Parameter or Buffer, in assignment order; their property names are torchvision's attribute
 * names (snake_case where torchvision's are), because they form the state_dict keys.
 * Other properties (configuration) are not registered.
 */
export abstract class Module {
  training = true;

  /** torch.nn-style layers are leaves for the tracer, as torch.fx treats `torch.nn` modules. */
  static readonly leaf: boolean = false;

  abstract forward(...args: never[]): unknown;

  /** Calls the module as `module(x)` does in torch: through the installed dispatcher (the tracer). */
  call<M extends Module>(this: M, ...args: Parameters<M["forward"]>): ReturnType<M["forward"]> {
    return dispatcher("call a module").callModule(this, args) as ReturnType<M["forward"]>;
  }

  /** torch's class name, used for leaf checks and messages. */
  get typeName(): string {
    return this.constructor.name;
  }

  namedChildren(): [string, Module][] {
    return Object.entries(this).filter((e): e is [string, Module] => e[1] instanceof Module);
  }

  /** Own parameters in registration order; `null` entries (e.g. `bias=False`) are absent. */
  ownParameters(): [string, Parameter][] {
    return Object.entries(this).filter((e): e is [string, Parameter] => e[1] instanceof Parameter);
  }

  ownBuffers(): [string, Buffer][] {
    return Object.entries(this).filter((e): e is [string, Buffer] => e[1] instanceof Buffer);
  }

  /** Every module below and including this one, each once, as torch's `named_modules`. */
  namedModules(prefix = ""): [string, Module][] {
    const out: [string, Module][] = [];
    const seen = new Set<Module>();
    const walk = (m: Module, path: string): void => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([path, m]);
      for (const [name, child] of m.namedChildren()) walk(child, path ? `${path}.${name}` : name);
    };
    walk(this, prefix);
    return out;
  }

  namedParameters(): [string, Parameter][] {
    return this.namedTensors((m) => m.ownParameters());
  }

  /** torch's `sum(p.numel() for p in model.parameters())`, from shapes: no weights are needed. */
  parameterCount(): number {
    return this.namedParameters().reduce((n, [, p]) => n + elementCount(p.shape), 0);
  }

  namedBuffers(): [string, Buffer][] {
    return this.namedTensors((m) => m.ownBuffers());
  }

  /** The state_dict's keys and shapes, in torch's order: each module's parameters, its buffers, then its children. */
  stateDictShapes(): [string, readonly number[]][] {
    const out: [string, readonly number[]][] = [];
    const walk = (m: Module, path: string): void => {
      const key = (n: string): string => (path ? `${path}.${n}` : n);
      for (const [n, p] of m.ownParameters()) out.push([key(n), p.shape]);
      for (const [n, b] of m.ownBuffers()) if (b.persistent) out.push([key(n), b.shape]);
      for (const [n, c] of m.namedChildren()) walk(c, key(n));
    };
    walk(this, "");
    return out;
  }

  /**
   * How older checkpoints name this module's tensors, renamed at load as torch's per-module
   * `_load_from_state_dict` renames them (torchvision's FeaturePyramidNetwork before 0.13,
   * RPNHead, MaskRCNNHeads): rules relative to this module, each pattern starting with `^` at
   * the key below the module's path (`^conv\.(weight|bias)$` → `conv.0.0.$1`). Subclasses
   * declare theirs; `checkpointKeyRenames` puts every module's under its path, the compiler
   * carries them in the program, and load applies them after the user's prefix, on every engine.
   */
  legacyKeyRenames(): readonly KeyRename[] {
    return [];
  }

  /**
   * Every module's `legacyKeyRenames` below and including this one, as rules on this module's
   * state_dict keys, in named_modules order; `reads(path)` keeps only the modules whose tensors
   * something reads (a program's checkpoint), so unused modules add nothing.
   */
  checkpointKeyRenames(reads: (modulePath: string) => boolean = () => true): KeyRename[] {
    return this.namedModules().flatMap(([path, m]) => (reads(path) ? m.legacyKeyRenames().map((rule) => renameUnderPath(rule, path)) : []));
  }

  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  private namedTensors<T>(own: (m: Module) => [string, T][]): [string, T][] {
    const out: [string, T][] = [];
    const seen = new Set<T>();
    for (const [path, m] of this.namedModules()) {
      for (const [n, t] of own(m)) {
        if (seen.has(t)) continue;
        seen.add(t);
        out.push([path ? `${path}.${n}` : n, t]);
      }
    }
    return out;
  }
}

/** Whether a module is a leaf by its class (torch.nn layers and torchvision.ops modules). */
export function isLeafClass(m: Module): boolean {
  return (m.constructor as typeof Module).leaf;
}

/** Which graph a model is traced in: torch's `module.train()` or `module.eval()`. */
export type Mode = "train" | "eval";

/** A module that maps one tensor to one tensor, the common case (a norm layer, a block). */
export type Layer = Module & { forward(x: Tensor): Tensor };
