import type { Project, SourceFile, VariableDeclarationKind } from "ts-morph";
import type { AbstractValue, Dim } from "../graph/value.js";
import { attrsJson, customOpsOf, type Instruction, type Json, type Operand, type Program, type ProgramOutput } from "../graph/program.js";
import type { Preset } from "@fxc/runtime/internal/images/preset";
import { disposalSchedule } from "../passes/schedule.js";
import { dataSection, docs, featuresComment, header, loadBody, type HeaderFacts } from "../../templates/module.js";
import { RUNTIME_PACKAGE } from "../version.js";
import { commentText, literal, propertyAccess, propertyName } from "./literal.js";
import { formatTypeScript } from "./format.js";

export interface EmitOptions {
  /** The zoo model name, for docs. */
  readonly model: string;
  /** A user model's file and export (`./src/my-net.ts#MyNet`), which the header names instead of torchvision's model. */
  readonly origin?: string;
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
  const project = await inMemoryProject();
  const file = project.createSourceFile("module.ts", "");
  const [, , h, w] = program.inputShape as [Dim, Dim, number, number];
  const image = isImageInput(program);
  const facts: HeaderFacts = image
    ? { ...options, mode: program.mode, height: h, width: w, layout: program.layout, ...(program.freeSize === undefined ? {} : { minimum: program.freeSize.minimum }) }
    : { ...options, mode: program.mode, height: 0, width: 0, layout: program.layout, input: inputWords(program) };
  const inputType = inputTypeOf(program);
  const featuresName = `${pascalCase(options.name)}Features`;

  addImports(file, program, options.runtimeModule ?? RUNTIME_PACKAGE, options.preset !== undefined);
  // The logic first: what the module gives, then how it runs.
  file.addInterface({
    name: featuresName,
    isExported: true,
    docs: [docs.features(options.model)],
    properties: program.outputs.map((o) => ({ name: propertyName(o.key), type: valueType(o.value), docs: [describeOutput(o, program)] })),
  });
  file.addTypeAlias({ name: "Features", isExported: true, type: featuresName, docs: [docs.featuresAlias] });
  addConst(file, "returnNodes", literal(Object.fromEntries(program.outputs.map((o) => [o.key, o.node]))) + " as const", docs.returnNodes, true);
  addConst(file, "inputShape", `${literal(inputShapeFor(program))} as const`, docs.inputShape(image ? program.layout : "torch's order", program.freeSize?.minimum), true);
  if (program.freeSize !== undefined) {
    addConst(file, "inputSize", `${literal({ compiled: [...program.freeSize.compiled], minimum: [...program.freeSize.minimum] })} as const`, docs.inputSize(program.layout), true);
  }
  if (options.preset !== undefined) {
    addConst(file, "preprocessing", `${literal({ ...options.preset })} as const satisfies Preset`, docs.preprocessing({ ...facts, preset: options.preset }), true);
  }
  file.addFunction({
    name: "load",
    isExported: true,
    docs: [docs.load],
    parameters: [
      { name: "weights", type: "WeightsInput" },
      { name: "options", type: "LoadOptions", hasQuestionToken: true },
    ],
    returnType: inputType === "Tensor4D" ? "Promise<Extractor<Features>>" : `Promise<Extractor<Features, ${inputType}>>`,
    statements: [loadBody(moduleLiteral(program, EXTRACTOR_NAMES))],
  });
  addForward(file, program, EXTRACTOR_NAMES, (notes) => docs.forward(options.model, program.mode, notes));
  const logic = file.getStatements().map((st) => st.getFullText().trim());
  // Then the data: the parameter tables load reads, which a reviewer rarely needs.
  const data = project.createSourceFile("data.ts", "");
  addTables(data, program, EXTRACTOR_NAMES);
  const tables = data.getStatements().map((st) => st.getFullText().trim());
  return formatTypeScript([header(facts), ...logic, dataSection, ...tables].join("\n\n") + "\n");
}

/**
 * A ts-morph project in memory. ts-morph (and the TypeScript it bundles: 80 MB and 0.4 s to load and use) is imported here,
 * when a module is written, so that commands which only run programs never load it.
 */
export async function inMemoryProject(): Promise<Project> {
  const { Project } = await import("ts-morph");
  return new Project({ useInMemoryFileSystem: true });
}

function addImports(file: SourceFile, program: Program, runtimeModule: string, preset: boolean): void {
  const types = new Set(["Extractor", "LoadOptions", "WeightsInput", ...programTypes(program)]);
  if (preset) types.add("Preset");
  addRuntimeImport(file, runtimeModule, ["createExtractor", "dispose"], types);
}

/** The one import of a generated module: the runtime's values, then its types, sorted. */
export function addRuntimeImport(file: SourceFile, runtimeModule: string, values: readonly string[], types: ReadonlySet<string>): void {
  file.addImportDeclaration({
    moduleSpecifier: runtimeModule,
    namedImports: [...values.map((name) => ({ name })), ...[...types].sort().map((name) => ({ name, isTypeOnly: true }))],
  });
}

/** The runtime types a program's forward and tables name. */
export function programTypes(program: Program): Set<string> {
  const types = new Set(["CheckpointShapes", "ParamSpec", "Params", "RankedKernels"]);
  for (const shape of program.inputShapes ?? [program.inputShape]) types.add(tensorTypeName(shape.length));
  for (const o of program.outputs) for (const t of tensorTypesOf(o.value)) types.add(t);
  if (hasKeyRenames(program)) types.add("KeyRename");
  return types;
}

const hasKeyRenames = (program: Program): boolean => program.keyRenames !== undefined && program.keyRenames.length > 0;

/**
 * The names a program's code and tables go by in a module: an extractor's are plain (`forward`,
 * `parameters`), the stages of a detector module prefix theirs (`boxForward`, `boxParameters`).
 */
export interface ProgramNames {
  /** The type forward returns. */
  readonly features: string;
  readonly forward: string;
  readonly paramId: string;
  readonly checkpoint: string;
  readonly parameters: string;
  readonly buffers: string;
  readonly frozen: string;
  readonly keyRenames: string;
  readonly inputShape: string;
  readonly inputSize: string;
}

export const EXTRACTOR_NAMES: ProgramNames = {
  features: "Features",
  forward: "forward",
  paramId: "ParamId",
  checkpoint: "checkpoint",
  parameters: "parameters",
  buffers: "buffers",
  frozen: "frozen",
  keyRenames: "keyRenames",
  inputShape: "inputShape",
  inputSize: "inputSize",
};

/** The names of a stage's program: `box` gives `boxForward`, `BoxParamId`, `boxCheckpoint`, ... */
export function stageNames(stage: string): ProgramNames {
  const Stage = pascalCase(stage);
  return {
    features: `${Stage}Outputs`,
    forward: `${stage}Forward`,
    paramId: `${Stage}ParamId`,
    checkpoint: `${stage}Checkpoint`,
    parameters: `${stage}Parameters`,
    buffers: `${stage}Buffers`,
    frozen: `${stage}Frozen`,
    keyRenames: `${stage}KeyRenames`,
    inputShape: `${stage}InputShape`,
    inputSize: `${stage}InputSize`,
  };
}

/** The ExtractorModule object literal createExtractor takes, its fields named by `names` (shorthand where the names agree). */
export function moduleLiteral(program: Program, names: ProgramNames): string {
  const fields: [string, string][] = [
    ["checkpoint", names.checkpoint],
    ["parameters", names.parameters],
    ...(hasKeyRenames(program) ? [["keyRenames", names.keyRenames] as [string, string]] : []),
    ...(program.buffers !== undefined ? [["buffers", names.buffers] as [string, string]] : []),
    ...(program.frozen !== undefined ? [["frozen", names.frozen] as [string, string]] : []),
    ["inputShape", names.inputShape],
    ...(program.freeSize !== undefined ? [["inputSize", names.inputSize] as [string, string]] : []),
    ...(customOpsOf(program).length > 0 ? [["customOps", JSON.stringify(customOpsOf(program))] as [string, string]] : []),
    ["forward", names.forward],
  ];
  return `{ ${fields.map(([key, value]) => (key === value ? key : `${key}: ${value}`)).join(", ")} }`;
}

/** The program's forward function: one statement per instruction, its notes said once in its doc. */
export function addForward(file: SourceFile, program: Program, names: ProgramNames, doc: (notes: readonly string[]) => string, exported = false): void {
  const notes = notesOf(program);
  file.addFunction({
    name: names.forward,
    isExported: exported,
    docs: [doc([...notes.keys()])],
    parameters: [
      { name: "input", type: inputTypeOf(program) },
      { name: "p", type: `Params<${names.paramId}>` },
      { name: "ops", type: "RankedKernels" },
    ],
    returnType: names.features,
    statements: forwardBody(program, notes, names.features),
  });
}

/** The tables load reads: the parameter ids' type, the checkpoint's shapes, the parameters, and the lists the program has. */
export function addTables(data: SourceFile, program: Program, names: ProgramNames): void {
  data.addTypeAlias({ name: names.paramId, type: `(typeof ${names.parameters})[number]["id"]`, docs: [docs.paramId] });
  addConst(data, names.checkpoint, `${literal(program.checkpoint as Json)} satisfies CheckpointShapes`, docs.checkpoint, false);
  addConst(data, names.parameters, `${literal(program.params.map((p) => ({ ...p })))} as const satisfies readonly ParamSpec[]`, docs.parameters, false);
  if (program.buffers !== undefined) addConst(data, names.buffers, `${literal(program.buffers)} satisfies readonly string[]`, docs.buffers, false);
  if (program.frozen !== undefined) addConst(data, names.frozen, `${literal(program.frozen)} satisfies readonly string[]`, docs.frozen, false);
  if (hasKeyRenames(program)) addConst(data, names.keyRenames, `${literal(program.keyRenames!.map((r) => ({ ...r })))} satisfies readonly KeyRename[]`, docs.keyRenames, false);
}

export function addConst(file: SourceFile, name: string, initializer: string, doc: string, exported: boolean): void {
  file.addVariableStatement({
    // ts-morph's enum member by its string value: the enum is imported as a type only (see inMemoryProject).
    declarationKind: "const" as VariableDeclarationKind.Const,
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
function forwardBody(program: Program, notes: ReadonlyMap<string, number>, featuresType: string): string[] {
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
    const args = [...ins.inputs.map(operand), ...(Object.keys(ins.attrs).length || ins.op === "input" ? [literal(attrsJson(ins))] : [])];
    lines.push(`const ${ins.id} = ops.${ins.op}${rank === undefined ? "" : `<${rank}>`}(${args.join(", ")});`);
    const dead = schedule[i]!;
    if (dead.length > 0) lines.push(`dispose(${dead.join(", ")});`);
  });
  // Filled by assignment, as the interpreter fills its result, so both give the same object for any key.
  lines.push(`// ${featuresComment}`);
  lines.push(`const features = Object.create(null) as ${featuresType};`);
  // Tensors come typed from their ranked calls; plain values and tuples are narrowed to their types.
  for (const o of program.outputs) lines.push(`${propertyAccess("features", o.key)} = ${operand(o.operand)}${o.value.kind === "tensor" ? "" : ` as ${castTo(o)}`};`);
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

/** A kernel's plain result (shapeOf's number[]) is narrowed to its tuple type through unknown; other plain values and tuples directly. */
function castTo(o: ProgramOutput): string {
  return o.value.kind === "size" && o.operand.kind === "value" ? `unknown as ${valueType(o.value)}` : valueType(o.value);
}

export function valueType(v: AbstractValue): string {
  switch (v.kind) {
    case "tensor":
      return tensorTypeName(v.shape.length);
    case "int":
    case "float":
      return "number";
    case "bool":
      return "boolean";
    case "none":
      return "null";
    case "size":
      return `readonly [${v.dims.map(() => "number").join(", ")}]`;
    case "tuple":
      return `readonly [${v.items.map(valueType).join(", ")}]`;
  }
}

function tensorTypeName(rank: number): string {
  return rank >= 1 && rank <= 6 ? `Tensor${rank}D` : "Tensor";
}

/** The runtime's tensor types an output's type names. */
function tensorTypesOf(v: AbstractValue): string[] {
  if (v.kind === "tensor") return [tensorTypeName(v.shape.length)];
  if (v.kind === "tuple") return v.items.flatMap(tensorTypesOf);
  return [];
}

/** The output's shape as the caller gets it: image-like 4-D values follow the chosen layout. */
export function outputShape(o: ProgramOutput, layout: Program["layout"]): Dim[] {
  return inLayout(o.value.kind === "tensor" ? o.value.shape : [], o, layout);
}

/** Torch-order dims of an output in the order the caller gets them. */
function inLayout<D>(shape: readonly D[], o: ProgramOutput, layout: Program["layout"]): D[] {
  if (shape.length === 4 && layout === "nhwc" && o.format === "channelsLast") return [shape[0]!, shape[2]!, shape[3]!, shape[1]!];
  return [...shape];
}

/** A plain returned value in words, as torch has it. */
function describeValue(v: AbstractValue): string {
  switch (v.kind) {
    case "tensor":
      return `a tensor [${v.shape.join(", ")}]`;
    case "int":
      return v.value === "N" ? "the batch size N" : `the int ${v.value}`;
    case "float":
      return `the float ${v.value}`;
    case "bool":
      return `${v.value ? "True" : "False"}`;
    case "none":
      return "None (null)";
    case "size":
      return `the shape [${v.dims.join(", ")}] in torch's dim order`;
    case "tuple":
      return `a tuple (${v.items.map(describeValue).join("; ")})`;
  }
}

export function describeOutput(o: ProgramOutput, program: Program): string {
  if (o.value.kind !== "tensor") return `\`${commentText(o.node)}\`: ${commentText(describeValue(o.value))}.`;
  const shape = outputShape(o, program.layout);
  const symbolic = o.symbolicShape === undefined ? undefined : inLayout(o.symbolicShape, o, program.layout);
  // Where the size is free, the shape in terms of the input's (and at the compiled size, where it varies).
  const at = symbolic === undefined || program.freeSize === undefined || symbolic.join() === shape.join() ? "" : ` ([${shape.join(", ")}] at ${program.freeSize.compiled.join("x")})`;
  const text = `\`${commentText(o.node)}\`: [${(symbolic ?? shape).join(", ")}]${at}`;
  if (o.value.kind !== "tensor" || o.value.shape.length !== 4 || o.format === "contiguous") return `${text}.`;
  const [, c, oh] = o.value.shape;
  const inputH = program.inputShape[2];
  const stride = typeof inputH === "number" && typeof oh === "number" && inputH % oh === 0 ? `, stride ${inputH / oh}` : "";
  return `${text} ${program.layout.toUpperCase()}; ${String(c)} channels${stride}.`;
}

/** Whether the program takes one [N, C, H, W] image (in the chosen layout), rather than inputs of their own shapes. */
export function isImageInput(program: Program): boolean {
  return program.inputShapes === undefined && isImageShape(program.inputShape);
}

const isImageShape = (shape: readonly Dim[]): boolean => shape.length === 4 && shape[0] === "N";

/** The header's words for inputs other than one image: each shape as `run` takes it. */
function inputWords(program: Program): string {
  const shapes = program.inputShapes ?? [program.inputShape];
  const words = shapes.map((shape) => `[${callerShape(shape, program.layout).map((d) => d ?? "N").join(", ")}]${isImageShape(shape) ? ` (${program.layout.toUpperCase()})` : ""}`);
  return shapes.length === 1 ? `${words[0]} input, as torch has it` : `inputs ${words.join(" and ")}`;
}

/** The type `run` takes: a tensor of the input's rank, or a tuple of them for several inputs. */
export function inputTypeOf(program: Program): string {
  if (program.inputShapes === undefined) return tensorTypeName(program.inputShape.length);
  return `readonly [${program.inputShapes.map((shape) => tensorTypeName(shape.length)).join(", ")}]`;
}

/** The compiled input shape as the caller gives it (`null` for the free batch); one per input when there are several. */
export function inputShapeFor(program: Program): (number | null)[] | (number | null)[][] {
  if (program.inputShapes !== undefined) return program.inputShapes.map((shape) => callerShape(shape, program.layout));
  return callerShape(program.inputShape, program.layout, program.freeSize !== undefined);
}

function callerShape(shape: readonly Dim[], layout: Program["layout"], freeSize = false): (number | null)[] {
  const dims = shape.map((d, i) => (typeof d === "number" && !(freeSize && i >= 2) ? d : null));
  if (!isImageShape(shape)) return dims;
  const [, c, h, w] = dims;
  return layout === "nhwc" ? [null, h!, w!, c!] : [null, c!, h!, w!];
}

export function pascalCase(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((s) => s[0]!.toUpperCase() + s.slice(1))
    .join("");
}
