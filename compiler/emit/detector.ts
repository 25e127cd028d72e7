import { RUNTIME_PACKAGE } from "../version.js";
import type { Program } from "../graph/program.js";
import type { DetectorConfiguration } from "@fxc/runtime/internal/detector";
import { dataSection, detectorDocs, detectorHeader, detectorLoadBody, docs, type DetectorStage } from "../../templates/module.js";
import { addConst, addForward, type EmitOptions, addRuntimeImport, addTables, describeOutput, inMemoryProject, inputShapeFor, moduleLiteral, pascalCase, programTypes, stageNames, valueType } from "./emitter.js";
import { literal } from "./literal.js";
import { formatTypeScript } from "./format.js";

/** A detector's stages, compiled, with what its eval forward reads besides them. */
export interface CompiledDetector {
  readonly configuration: DetectorConfiguration;
  /** The backbone (FPN included) and RPN head, free in the size, with the backbone's level names. */
  readonly features: { readonly program: Program; readonly levels: readonly string[] };
  readonly box: { readonly program: Program };
  readonly mask?: { readonly program: Program };
}

/** As an extractor's (`name` gives `MaskrcnnResnet50FpnDetection`), without the preprocessing preset: the detector normalizes images itself. */
export type DetectorEmitOptions = Omit<EmitOptions, "preset">;

/**
 * Writes a detector as one TypeScript module, formatted and deterministic: the header, the
 * runtime's import, the Detection type, the configuration, `load`, and each stage's forward
 * (written as an extractor's is); the stages' tables last. The orchestration between the stages
 * (NMS, top-k, RoIAlign over a variable number of boxes) is the runtime's loadDetector.
 */
export async function emitDetectorModule(detector: CompiledDetector, options: DetectorEmitOptions): Promise<string> {
  const project = await inMemoryProject();
  const file = project.createSourceFile("module.ts", "");
  const stages: [DetectorStage, Program][] = [
    ["features", detector.features.program],
    ["box", detector.box.program],
    ...(detector.mask === undefined ? [] : [["mask", detector.mask.program] as [DetectorStage, Program]]),
  ];
  const masks = detector.mask !== undefined;
  const freeSize = detector.features.program.freeSize!;

  const types = new Set(["DetectionResult", "Detector", "DetectorConfiguration", "DetectorLoadOptions", "WeightsInput", ...(masks ? ["DetectionMasks"] : [])]);
  for (const [, program] of stages) for (const t of programTypes(program)) types.add(t);
  addRuntimeImport(file, options.runtimeModule ?? RUNTIME_PACKAGE, ["dispose", "loadDetector"], types);

  const detectionName = `${pascalCase(options.name)}Detection`;
  file.addInterface({
    name: detectionName,
    isExported: true,
    extends: ["DetectionResult"],
    docs: [detectorDocs.detection(options.model, masks)],
    properties: [masks ? { name: "masks", type: "DetectionMasks", isReadonly: true } : { name: "masks", type: "never", hasQuestionToken: true, isReadonly: true }],
  });
  file.addTypeAlias({ name: "Detection", isExported: true, type: detectionName, docs: [detectorDocs.detectionAlias] });
  addConst(file, "configuration", `${literal(detector.configuration as never)} as const satisfies DetectorConfiguration`, detectorDocs.configuration, true);
  addConst(file, "levels", `${literal([...detector.features.levels])} as const`, detectorDocs.levels, true);
  const literals = Object.fromEntries(stages.map(([stage, program]) => [stage, moduleLiteral(program, stageNames(stage))])) as Record<DetectorStage, string>;
  file.addFunction({
    name: "load",
    isExported: true,
    docs: [detectorDocs.load],
    parameters: [
      { name: "weights", type: "WeightsInput" },
      { name: "options", type: "DetectorLoadOptions", hasQuestionToken: true },
    ],
    returnType: "Promise<Detector<Detection>>",
    statements: [detectorLoadBody(literals)],
  });
  for (const [stage, program] of stages) {
    const names = stageNames(stage);
    file.addInterface({
      name: names.features,
      docs: [detectorDocs.stageOutputs(stage)],
      properties: program.outputs.map((o) => ({ name: o.key, type: valueType(o.value), docs: [describeOutput(o, program)] })),
    });
    addForward(file, program, names, (notes) => `${detectorDocs.stage(stage, options.model)}\n\n${detectorDocs.stageForward(stage, notes)}`);
  }
  const logic = file.getStatements().map((st) => st.getFullText().trim());

  // Then the data: each stage's tables (its modules' key renames among them), its input shape and size.
  const data = project.createSourceFile("data.ts", "");
  for (const [stage, program] of stages) {
    const names = stageNames(stage);
    addTables(data, program, names);
    addConst(data, names.inputShape, `${literal(inputShapeFor(program))} as const`, detectorDocs.stageInputShape(stage), false);
    if (program.freeSize !== undefined) {
      addConst(data, names.inputSize, `${literal({ compiled: [...program.freeSize.compiled], minimum: [...program.freeSize.minimum] })} as const`, docs.inputSize(program.layout), false);
    }
  }
  const tables = data.getStatements().map((st) => st.getFullText().trim());

  const header = detectorHeader({
    model: options.model,
    ...(options.origin === undefined ? {} : { origin: options.origin }),
    checkedAt: [freeSize.compiled[0]!, freeSize.compiled[1]!],
    masks,
    command: options.command,
    fxcVersion: options.fxcVersion,
    torchvisionVersion: options.torchvisionVersion,
  });
  return formatTypeScript([header, ...logic, dataSection, ...tables].join("\n\n") + "\n");
}
