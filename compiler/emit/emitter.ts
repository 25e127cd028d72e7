import { Project, VariableDeclarationKind, type SourceFile } from "ts-morph";
import type { Dim } from "../graph/value.js";
import type { Instruction, Json, Operand, Program, ProgramOutput } from "../graph/program.js";
import type { Preset } from "../../runtime/images/preset.js";
import { disposalSchedule } from "../passes/schedule.js";
import { dataSection, docs, featuresComment, header, loadBody, type HeaderFacts } from "../../templates/module.js";
import { commentText, literal, propertyAccess, propertyName } from "./literal.js";
import { formatTypeScript } from "./format.js";

export interface EmitOptions {
  /** The zoo model name, for docs. */
  readonly model: string;
  /** Names the features interface: `resnet50` gives `Resnet50Features`. */
  readonly name: string;
  /** The command that regenerates the file, for its header. */
  readonly command: string;
  readonly fxcVersion: string;
  readonly torchvisionVersion: string;
  /** Where generated code imports the runtime from. */
  readonly runtimeModule?: string;
  /** The preprocessing of the model's weights (zoo models), exported as `preprocessing`. */
  readonly preset?: Preset;
}

/**
 * Writes a program as a TypeScript module with ts-morph, formatted by prettier. The same
 * program always gives the same bytes.
 */
export async function emitModule(program: Program, options: EmitOptions): Promise<string> {
  const project = new Project({ useInMemoryFileSystem: true });
  const file = project.createSourceFile("module.ts", "");
  const [, , h, w] = program.inputShape as [Dim, Dim, number, number];
  const facts: HeaderFacts = { ...options, mode: program.mode, height: h, width: w, layout: program.layout };
  const featuresName = `${pascalCase(options.name)}Features`;

  addImports(file, program, options.runtimeModule ?? "fxc/runtime", options.preset !== undefined);
  // The logic first: what the module gives, then how it runs.
  file.addInterface({
    name: featuresName,
    isExported: true,
    docs: [docs.features(options.model)],
    properties: program.outputs.map((o) => ({ name: propertyName(o.key), type: tensorType(o), docs: [describeOutput(o, program)] })),
  });
  file.addTypeAlias({ name: "Features", isExported: true, type: featuresName, docs: [docs.featuresAlias] });
  addConst(file, "returnNodes", literal(Object.fromEntries(program.outputs.map((o) => [o.key, o.node]))) + " as const", docs.returnNodes, true);
  addConst(file, "inputShape", `${literal(inputShapeFor(program))} as const`, docs.inputShape(program.layout), true);
  if (options.preset !== undefined) {
    addConst(file, "preprocessing", `${literal({ ...options.preset })} as const satisfies Preset`, docs.preprocessing({ ...facts, preset: options.preset }), true);
  }
  const keyRenames = program.keyRenames !== undefined && program.keyRenames.length > 0;
  file.addFunction({
    name: "load",
    isExported: true,
    docs: [docs.load],
    parameters: [
      { name: "weights", type: "WeightsInput" },
      { name: "options", type: "LoadOptions", hasQuestionToken: true },
    ],
    returnType: "Promise<Extractor<Features>>",
    statements: [loadBody(keyRenames)],
  });
  const notes = notesOf(program);
  file.addFunction({
    name: "forward",
    docs: [docs.forward(options.model, program.mode, [...notes.keys()])],
    parameters: [
      { name: "input", type: "Tensor4D" },
      { name: "p", type: "Params<ParamId>" },
      { name: "ops", type: "RankedKernels" },
    ],
    returnType: "Features",
    statements: forwardBody(program, notes),
  });
  const logic = file.getStatements().map((st) => st.getFullText().trim());
  // Then the data: the parameter tables load reads, which a reviewer rarely needs.
  const data = project.createSourceFile("data.ts", "");
  data.addTypeAlias({ name: "ParamId", type: `(typeof parameters)[number]["id"]`, docs: [docs.paramId] });
  addConst(data, "checkpoint", `${literal(program.checkpoint as Json)} satisfies CheckpointShapes`, docs.checkpoint, false);
  addConst(data, "parameters", `${literal(program.params.map((p) => ({ ...p })))} as const satisfies readonly ParamSpec[]`, docs.parameters, false);
  if (keyRenames) addConst(data, "keyRenames", `${literal(program.keyRenames!.map((r) => ({ ...r })))} satisfies readonly KeyRename[]`, docs.keyRenames, false);
  const tables = data.getStatements().map((st) => st.getFullText().trim());
  return formatTypeScript([header(facts), ...logic, dataSection, ...tables].join("\n\n") + "\n");
}

function addImports(file: SourceFile, program: Program, runtimeModule: string, preset: boolean): void {
  const types = new Set(["CheckpointShapes", "Extractor", "LoadOptions", "ParamSpec", "Params", "RankedKernels", "Tensor4D", "WeightsInput"]);
  for (const o of program.outputs) types.add(tensorType(o));
  if (program.keyRenames !== undefined && program.keyRenames.length > 0) types.add("KeyRename");
  if (preset) types.add("Preset");
  const values = ["createExtractor", "dispose"];
  file.addImportDeclaration({
    moduleSpecifier: runtimeModule,
    namedImports: [...values.map((name) => ({ name })), ...[...types].sort().map((name) => ({ name, isTypeOnly: true }))],
  });
}

function addConst(file: SourceFile, name: string, initializer: string, doc: string, exported: boolean): void {
  file.addVariableStatement({
    declarationKind: VariableDeclarationKind.Const,
    isExported: exported,
    docs: [doc],
    declarations: [{ name, initializer }],
  });
}

/**
 * Each distinct note of the program's instructions, numbered in order of first use: a note
 * (batch norm folded, an activation fused...) is said once, in forward's doc, and each
 * statement it applies to refers to it by number.
 */
function notesOf(program: Program): Map<string, number> {
  const notes = new Map<string, number>();
  for (const ins of program.instructions) if (ins.note && !notes.has(ins.note)) notes.set(ins.note, notes.size + 1);
  return notes;
}

/** One statement per instruction (each a graph node, or nodes fused into one call), then frees. */
function forwardBody(program: Program, notes: ReadonlyMap<string, number>): string[] {
  const schedule = disposalSchedule(program);
  // The calls whose results are features state their rank, so that Features needs no cast.
  const featureRanks = new Map<string, number>();
  for (const o of program.outputs) {
    const rank = outputRank(o);
    if (o.operand.kind === "value" && rank !== undefined) featureRanks.set(o.operand.id, rank);
  }
  const lines: string[] = [];
  program.instructions.forEach((ins, i) => {
    lines.push(`// ${comment(ins, notes)}`);
    const rank = featureRanks.get(ins.id);
    const args = [...ins.inputs.map(operand), ...(Object.keys(ins.attrs).length || ins.op === "input" ? [literal(ins.attrs)] : [])];
    lines.push(`const ${ins.id} = ops.${ins.op}${rank === undefined ? "" : `<${rank}>`}(${args.join(", ")});`);
    const dead = schedule[i]!;
    if (dead.length > 0) lines.push(`dispose(${dead.join(", ")});`);
  });
  // Filled by assignment, as the interpreter fills its result, so both give the same object for any key.
  lines.push(`// ${featuresComment}`);
  lines.push("const features = Object.create(null) as Features;");
  for (const o of program.outputs) lines.push(`${propertyAccess("features", o.key)} = ${operand(o.operand)};`);
  lines.push("return features;");
  return lines;
}

function comment(ins: Instruction, notes: ReadonlyMap<string, number>): string {
  const nodes = [...new Set(ins.nodes)].join(" → ");
  const sub = ins.id.includes("__") ? ` (${ins.op})` : "";
  return commentText(ins.note ? `${nodes}${sub} [${notes.get(ins.note)!}]` : `${nodes}${sub}`);
}

function operand(o: Operand): string {
  switch (o.kind) {
    case "value":
      return o.id;
    case "param":
      return `p.${o.id}`;
    case "const":
      return literal(o.value);
    case "list":
      return `[${o.items.map(operand).join(", ")}]`;
  }
}

/** The rank an output is typed with, where tfjs names a type for it (1 to 6). */
function outputRank(o: ProgramOutput): number | undefined {
  const rank = o.value.kind === "tensor" ? o.value.shape.length : 0;
  return rank >= 1 && rank <= 6 ? rank : undefined;
}

function tensorType(o: ProgramOutput): string {
  const rank = outputRank(o);
  return rank === undefined ? "Tensor" : `Tensor${rank}D`;
}

/** The output's shape as the caller gets it: image-like 4-D values follow the chosen layout. */
export function outputShape(o: ProgramOutput, layout: Program["layout"]): Dim[] {
  const shape = o.value.kind === "tensor" ? [...o.value.shape] : [];
  if (shape.length === 4 && layout === "nhwc" && o.format === "channelsLast") return [shape[0]!, shape[2]!, shape[3]!, shape[1]!];
  return shape;
}

function describeOutput(o: ProgramOutput, program: Program): string {
  const shape = outputShape(o, program.layout);
  const text = `\`${commentText(o.node)}\`: [${shape.join(", ")}]`;
  if (o.value.kind !== "tensor" || o.value.shape.length !== 4 || o.format === "contiguous") return `${text}.`;
  const [, c, oh] = o.value.shape;
  const inputH = program.inputShape[2];
  const stride = typeof inputH === "number" && typeof oh === "number" && inputH % oh === 0 ? `, stride ${inputH / oh}` : "";
  return `${text} ${program.layout.toUpperCase()}; ${String(c)} channels${stride}.`;
}

export function inputShapeFor(program: Program): (number | null)[] {
  const [, c, h, w] = program.inputShape.map((d) => (typeof d === "number" ? d : null));
  return program.layout === "nhwc" ? [null, h!, w!, c!] : [null, c!, h!, w!];
}

function pascalCase(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((s) => s[0]!.toUpperCase() + s.slice(1))
    .join("");
}
