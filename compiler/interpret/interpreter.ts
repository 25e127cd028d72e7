import type { ExtractorModule } from "@fxc/runtime/internal/extractor";
import type { TfjsKernels } from "@fxc/runtime/internal/kernels";
import { dispose } from "@fxc/runtime/internal/ops/support/dispose";
import type { Tensor } from "@fxc/runtime/internal/ops/tf";
import type { Params } from "@fxc/runtime/internal/params";
import { inputShapeFor } from "../emit/emitter.js";
import { customOpsOf, type Json, type Operand, type Program } from "../graph/program.js";
import { disposalSchedule } from "../passes/schedule.js";

type RuntimeValue = unknown;
/** A kernel called with arguments resolved at run time: the instruction's op is a KernelName, checked by tsc. */
type Kernel = (...args: RuntimeValue[]) => RuntimeValue;

/**
 * Runs a lowered program directly, as torch.fx's Interpreter runs a graph: the same
 * kernel calls with the same arguments, and the same disposal points, as the code the
 * emitter writes for it. `createFeatureExtractor` uses this; `fxc compile` writes the code.
 */
export function interpret(program: Program): (input: Tensor, params: Params, kernels: TfjsKernels) => Record<string, Tensor> {
  const schedule = disposalSchedule(program);
  return (input, params, kernels) => {
    const values = new Map<string, RuntimeValue>([["input", input]]);
    const resolve = (o: Operand): RuntimeValue => {
      switch (o.kind) {
        case "value":
          return values.get(o.id);
        case "param":
          return params[o.id];
        case "const":
          return o.value as Json;
        case "list":
          return o.items.map(resolve);
      }
    };
    try {
      program.instructions.forEach((ins, i) => {
        const args = ins.inputs.map(resolve);
        values.set(ins.id, (kernels[ins.op] as Kernel)(...args, ins.attrs));
        for (const id of schedule[i]!) {
          dispose(values.get(id));
          values.delete(id);
        }
      });
    } catch (e) {
      for (const [id, v] of values) if (id !== "input") dispose(v);
      throw e;
    }
    // As the emitted forward builds it: a null-prototype object filled by assignment, so every key is its own property.
    const features = Object.create(null) as Record<string, Tensor>;
    for (const o of program.outputs) features[o.key] = resolve(o.operand) as Tensor;
    return features;
  };
}

/** A program as createExtractor runs it, interpreted: what a generated module hands the runtime, without writing one. */
export function programModule(program: Program): ExtractorModule<Record<string, Tensor>, Tensor> {
  return {
    checkpoint: program.checkpoint,
    parameters: program.params,
    ...(program.keyRenames === undefined ? {} : { keyRenames: program.keyRenames }),
    ...(program.buffers === undefined ? {} : { buffers: program.buffers }),
    ...(program.frozen === undefined ? {} : { frozen: program.frozen }),
    inputShape: inputShapeFor(program),
    ...(program.freeSize === undefined ? {} : { inputSize: program.freeSize }),
    ...(customOpsOf(program).length === 0 ? {} : { customOps: customOpsOf(program) }),
    forward: interpret(program),
  };
}
