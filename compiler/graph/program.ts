import type { AbstractValue, Dim } from "./value.js";
import { sourceKeys, type CheckpointShapes, type ParamSource, type ParamSpec, type ParamTransform } from "@fxc/runtime/internal/params";
import type { KeyRename } from "@fxc/runtime/internal/weights/rename";
import type { KernelAttrs, KernelName } from "@fxc/runtime/internal/kernels";
import type { Layout, Mode } from "../pipeline.js";

export { sourceKeys, type ParamSource, type ParamSpec, type ParamTransform };

/**
 * The lowered program's vocabulary, shared by the emitter (which prints it) and the
 * interpreter (which runs it), so that both do exactly the same thing.
 */

/**
 * Physical layout of a 4-D value. Image-like values (torch NCHW) are stored channels-last,
 * as tfjs's convolutions want them, like torch's `channels_last` memory format; a 4-D value
 * whose torch dims already put channels last (Swin's [B, H, W, C]) is stored as torch orders it.
 */
export type MemoryFormat = "channelsLast" | "contiguous";

export type Json = number | string | boolean | null | readonly Json[] | { readonly [key: string]: Json };

export type Operand =
  | { readonly kind: "value"; readonly id: string }
  | { readonly kind: "param"; readonly id: string }
  | { readonly kind: "const"; readonly value: Json }
  | { readonly kind: "list"; readonly items: readonly Operand[] };

interface InstructionBase {
  /** The result's variable name. */
  readonly id: string;
  readonly inputs: readonly Operand[];
  /** The torchvision nodes this computes, in order; its value is the last one's. */
  readonly nodes: readonly string[];
  readonly value: AbstractValue;
  readonly format?: MemoryFormat;
  /** Why it is there when it is not a node's own op (layout conversion, folding). */
  readonly note?: string;
}

/**
 * A call of one kernel with the attributes that kernel declares (runtime/kernels.ts), so a
 * misspelled kernel or attribute, or an attribute of the wrong type, fails tsc.
 */
export type KernelCall<K extends KernelName> = {
  readonly op: K;
  readonly attrs: KernelAttrs<K>;
};

/** One lowered instruction: a union over the kernels, discriminated by `op`. */
export type Instruction = { [K in KernelName]: InstructionBase & KernelCall<K> }[KernelName];

export interface ProgramOutput {
  /** The user's key. */
  readonly key: string;
  /** The torchvision node it comes from. */
  readonly node: string;
  readonly operand: Operand;
  readonly value: AbstractValue;
  readonly format?: MemoryFormat;
  /** Where the program takes any input size: the value's torch-order dims as expressions of the input's (`["N", 256, "⌈H/4⌉", "⌈W/4⌉"]`). */
  readonly symbolicShape?: readonly (number | string)[];
}

/** A program that takes any height and width from `minimum` up (compiler/passes/freeSize.ts). */
export interface FreeSize {
  /** The size it was compiled (and its shapes checked) at. */
  readonly compiled: readonly [number, number];
  /** The smallest height and width the network takes. */
  readonly minimum: readonly [number, number];
}

/**
 * A graph lowered to runtime calls: what the emitter prints and the interpreter runs.
 * Values are named after their torchvision nodes; `input` is the caller's tensor.
 */
export interface Program {
  readonly mode: Mode;
  /** The layout of the 4-D input and of image-like 4-D outputs. */
  readonly layout: Layout;
  /** torch's input shape, [N, C, H, W] for an image; the first input's when there are several. */
  readonly inputShape: readonly Dim[];
  /** Every input's shape when forward takes several (`input` is then an array of them). */
  readonly inputShapes?: readonly (readonly Dim[])[];
  readonly instructions: readonly Instruction[];
  readonly params: readonly ParamSpec[];
  /** The checkpoint tensors the params are made from, with their torch shapes. */
  readonly checkpoint: CheckpointShapes;
  readonly outputs: readonly ProgramOutput[];
  /** Set where the height and width are free: `inputShape` holds the compiled size, which shapes are checked at. */
  readonly freeSize?: FreeSize;
  /** How older checkpoints' keys are renamed before reading them: the modules' own rules (Module.legacyKeyRenames, under their paths), then the zoo entry's. */
  readonly keyRenames?: readonly KeyRename[];
  /** The checkpoint keys that are the model's buffers, not parameters (absent when none are). */
  readonly buffers?: readonly string[];
  /** The parameters the model freezes (`requiresGrad = false`), absent when none are. */
  readonly frozen?: readonly string[];
}

/** An instruction's attributes as the JSON the emitter prints: every kernel's attrs are plain numbers, strings, booleans, null and arrays of them (runtime/ops), which tsc cannot see through their interfaces. */
export const attrsJson = (ins: Instruction): Json => ins.attrs as Json;

export const valueRef = (id: string): Operand => ({ kind: "value", id });
export const constant = (v: Json): Operand => ({ kind: "const", value: v });

function operandIds(o: Operand, kind: "value" | "param"): string[] {
  if (o.kind === kind) return [o.id];
  if (o.kind === "list") return o.items.flatMap((item) => operandIds(item, kind));
  return [];
}

/** The value ids an operand reads. */
export const operandValues = (o: Operand): string[] => operandIds(o, "value");

/** The param ids an operand reads. */
export const operandParams = (o: Operand): string[] => operandIds(o, "param");

/** The user ops (F.defineOp) the program calls, each once, in order: a module names them so that load can check their kernels are registered. */
export function customOpsOf(program: Program): string[] {
  return [...new Set(program.instructions.flatMap((ins) => (ins.op === "customOp" ? [ins.attrs.name] : [])))];
}

/** The value ids the program returns: kept for the caller, never freed or fused away. */
export function returnedValues(program: Program): Set<string> {
  return new Set(program.outputs.flatMap((o) => operandValues(o.operand)));
}

/** `instructions` without those `removed`, each `replaced` one in its place: how a pass that folds calls into one writes its result. */
export function rewritten(instructions: readonly Instruction[], removed: ReadonlySet<string>, replaced: ReadonlyMap<string, Instruction>): Instruction[] {
  return instructions.filter((i) => !removed.has(i.id)).map((i) => replaced.get(i.id) ?? i);
}

/** How many reads of each value id the operands make. */
export function readCounts(operands: Iterable<Operand>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const o of operands) for (const id of operandValues(o)) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

