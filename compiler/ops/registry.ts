import { CustomOpError } from "@fxc/runtime/internal/ops/support/custom";
import type { AbstractValue } from "../graph/value.js";
import type { LowerContext, Lowered } from "./lowering.js";
import { parseSchema, type ArgValue, type Schema } from "./schema.js";
import { InternalError } from "@fxc/runtime/internal/errors";

/**
 * One torch op as the compiler knows it: its signature, its shape rule (run while tracing)
 * and its lowering to a runtime call over tfjs.
 */
export interface OpDef {
  readonly schema: Schema;
  /** The output value (shape, int, bool...) from the bound arguments. */
  infer(args: Readonly<Record<string, ArgValue>>): AbstractValue;
  /** The runtime call that computes it; absent for ops that are folded away at compile time. */
  lower?(ctx: LowerContext): Lowered;
}

export interface OpSpec {
  readonly schema: string;
  infer(args: Readonly<Record<string, ArgValue>>): AbstractValue;
  lower?(ctx: LowerContext): Lowered;
}

const registry = new Map<string, OpDef>();
/** The names registered by `defineUserOp` (a model's `F.defineOp`), which a later definition may replace. */
const userOps = new Set<string>();

/** Registers an op under its schema name, which is also its torch.fx target name. */
export function defineOp(spec: OpSpec): OpDef {
  const def: OpDef = { ...spec, schema: parseSchema(spec.schema) };
  if (registry.has(def.schema.name)) throw new InternalError(`op ${def.schema.name} defined twice`);
  registry.set(def.schema.name, def);
  return def;
}

/**
 * Registers a user's op (F.defineOp): under any name but one of fxc's own ops; defining a user op
 * again (a model module loaded twice, a test) replaces it, as registerOp replaces its kernel.
 */
export function defineUserOp(spec: OpSpec): OpDef {
  const def: OpDef = { ...spec, schema: parseSchema(spec.schema) };
  const name = def.schema.name;
  if (registry.has(name) && !userOps.has(name)) throw new CustomOpError(`defineOp name '${name}' is one of fxc's own ops; give your op another name`);
  registry.set(name, def);
  userOps.add(name);
  return def;
}

export function getOp(name: string): OpDef {
  const def = registry.get(name);
  if (def === undefined) throw new InternalError(`no op named ${name}`);
  return def;
}
