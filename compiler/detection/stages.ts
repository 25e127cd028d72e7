import { Module, type Tensor } from "../../models/nn/index.js";
import type { GeneralizedRCNN } from "../../models/detection/generalized_rcnn.js";
import { Proxy } from "../trace/proxy.js";
import { Node, type Argument } from "../graph/node.js";
import { BATCH, type Dim } from "../graph/value.js";
import type { Program } from "../graph/program.js";
import { compileGraph, refusingSize, traceMode, tracesAt, withModuleFacts } from "../pipeline.js";
import { freeSpatialSize } from "../passes/freeSize.js";
import { stageOutputKey } from "@fxc/runtime/internal/detector";
import { InternalError } from "@fxc/runtime/internal/errors";

/**
 * The dense parts of a GeneralizedRCNN, each a module whose children are the model's own (so
 * its parameters keep their state_dict keys, `backbone.body.conv1.weight`,
 * `rpn.head.conv.0.0.weight`, `roi_heads.box_head.fc6.weight`) and whose forward is traceable:
 * the pipeline compiles it as it compiles an extractor, and the engines run it.
 */

/** The backbone (FPN included) on the padded batch, then the RPN head on each level. */
export class BackboneAndRpnHead extends Module {
  backbone: Module;
  rpn: GeneralizedRCNN["rpn"];
  /** The backbone's level names in its dict's order, as the last trace found them ("0" for a backbone returning one tensor). */
  levelNames: string[] = [];

  constructor(model: GeneralizedRCNN) {
    super();
    this.backbone = model.backbone;
    this.rpn = model.rpn;
  }

  forward(x: Tensor): Tensor[] {
    const raw = (this.backbone as Module & { forward(x: Tensor): Tensor | Readonly<Record<string, Tensor>> }).call(x);
    // torchvision: a backbone returning one tensor is OrderedDict([("0", features)]).
    const single = raw instanceof Proxy && raw.node.value.kind === "tensor";
    const features: Readonly<Record<string, Tensor>> = single ? { "0": raw as Tensor } : (raw as Readonly<Record<string, Tensor>>);
    this.levelNames = Object.keys(features);
    const out: Tensor[] = [];
    for (const name of this.levelNames) {
      const feature = features[name]!;
      const [objectness, deltas] = this.rpn.head.call(feature);
      out.push(feature, objectness, deltas);
    }
    return out;
  }
}

/** RoIHeads' box head and predictor over R pooled regions: class logits [R, K] and box deltas [R, 4K]. */
export class BoxHeadStage extends Module {
  roi_heads: GeneralizedRCNN["roi_heads"];

  constructor(model: GeneralizedRCNN) {
    super();
    this.roi_heads = model.roi_heads;
  }

  forward(x: Tensor): Tensor[] {
    const head = this.roi_heads.box_head as Module & { forward(x: Tensor): Tensor };
    const predictor = this.roi_heads.box_predictor as Module & { forward(x: Tensor): [Tensor, Tensor] };
    const [classLogits, boxRegression] = predictor.call(head.call(x));
    return [classLogits, boxRegression];
  }
}

/** RoIHeads' mask head and predictor over R pooled regions: mask logits [R, K, M, M]. */
export class MaskHeadStage extends Module {
  roi_heads: GeneralizedRCNN["roi_heads"];

  constructor(model: GeneralizedRCNN) {
    super();
    this.roi_heads = model.roi_heads;
  }

  forward(x: Tensor): Tensor {
    const head = this.roi_heads.mask_head as Module & { forward(x: Tensor): Tensor };
    const predictor = this.roi_heads.mask_predictor as Module & { forward(x: Tensor): Tensor };
    return predictor.call(head.call(x));
  }
}

/** The nodes a traced forward returns, in order (a list, tuple or dict flattened). */
function returnedNodes(output: Argument | undefined): Node[] {
  if (output === undefined || output === null || typeof output !== "object") return [];
  if (Array.isArray(output)) return (output as readonly Argument[]).flatMap(returnedNodes);
  if (output instanceof Node) return [output];
  return Object.values(output as Record<string, Argument>).flatMap(returnedNodes);
}

/** A compiled stage: its program, and the keys of its outputs in forward's return order. */
export interface CompiledStage {
  readonly program: Program;
  readonly keys: readonly string[];
}

/**
 * Traces `stage` in eval mode for an NCHW input of `shape` (the batch free), returns every value
 * its forward returns under keys `out0`, `out1`, ... (stageOutputKey) and compiles it with the extractors'
 * pipeline, inputs and outputs in torch's NCHW layout.
 */
export function compileStage(stage: Module, shape: readonly Dim[]): CompiledStage {
  const at = (size: readonly Dim[]): { program: Program; keys: string[] } => {
    const graph = inStageModes(stage, () => traceMode(stage, "eval", { size: 1, inputShape: [BATCH, ...size.slice(1)] }));
    const nodes = returnedNodes(graph.output);
    const returnNodes = Object.fromEntries(nodes.map((n, i) => [n.qualname!, stageOutputKey(i)]));
    if (Object.keys(returnNodes).length !== nodes.length) throw new InternalError(`${stage.typeName} returns one node twice`);
    // With what the stage's modules say about their tensors: buffers, frozen parameters, and their older checkpoints' key renames (RPNHead's conv, the FPN before 0.13, MaskRCNNHeads' mask_fcn{i}).
    const program = withModuleFacts(compileGraph(graph, returnNodes, { mode: "eval", layout: "nchw" }).program, stage);
    return { program, keys: nodes.map((_, i) => stageOutputKey(i)) };
  };
  const built = at(shape);
  // An image stage (the backbone) built once for every padded size where its program does not depend on the size.
  const [, channels] = shape;
  const program = freeSpatialSize(built.program, {
    build: (size) => refusingSize(() => at([BATCH, channels!, ...size]).program),
    traces: (size) => inStageModes(stage, () => tracesAt(stage, "eval", { size: 1, inputShape: [BATCH, channels!, ...size] })),
  });
  return { program, keys: built.keys };
}

/** Runs `fn` (a trace, which leaves every module in the stage's own mode) and gives the model's modules their modes back. */
function inStageModes<T>(stage: Module, fn: () => T): T {
  const modes = stage.namedModules().map(([, m]) => [m, m.training] as const);
  try {
    return fn();
  } finally {
    for (const [m, training] of modes) m.training = training;
  }
}
