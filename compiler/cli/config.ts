import { readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { getModelEntry, UnknownNameError } from "../../models/zoo/registry.js";
import { errorCode } from "@fxc/runtime/internal/weights/types";
import type { ReturnNodes } from "../passes/returnNodes.js";
import type { Layout, Mode } from "../pipeline.js";
import { moduleNameMessage, outputKeyMessage } from "../names.js";
import { didYouMean } from "../../models/suggest.js";
import { UsageError } from "./errors.js";
import { parseReturnSpec, parseSize } from "./spec.js";
import { isUserModelSpec, parseUserModelSpec, userModelName, type UserModelSpec } from "./userModel.js";

/**
 * `fxc.config.json` (or `fxc.config.ts`, default-exporting the same object): the extractors a
 * project compiles in its build step, each what one `fxc compile` command line says.
 */
export interface FxcConfig {
  /** Folder for the modules, relative to the config file (default `generated`); an extractor's own `out` wins. */
  readonly out?: string;
  readonly extractors: readonly ExtractorConfig[];
}

export interface ExtractorConfig {
  /** A zoo model name (`fxc models` lists them), or a model of the user's as `./src/my-net.ts#MyNet` (relative to the config file). */
  readonly model: string;
  /** `--return`'s spec (`"layer1,layer4:last"`), a list of nodes, or a `{ node: key }` map as torchvision takes. */
  readonly return: string | readonly string[] | Readonly<Record<string, string>>;
  /** File and features interface name (default: the model's). */
  readonly name?: string;
  /** Input size: 224, "224x160" or [224, 160] (default: the model's). */
  readonly size?: number | string | readonly [number, number];
  /** Keep the input at `size` even where the network takes any (default false: a fully convolutional extractor takes any size). */
  readonly fixedSize?: boolean;
  readonly layout?: Layout;
  readonly mode?: Mode;
  /** Folder for this module, relative to the config file. */
  readonly out?: string;
}

/** One module to build: what to compile and the file it goes to. */
export interface BuildTarget {
  /** Where it stands in the config, for messages: `extractors[0] (resnet50)`. */
  readonly label: string;
  readonly model: string;
  /** A model of the user's: its file, resolved against the config's folder (`text` stays as written, for the header). */
  readonly user?: UserModelSpec;
  readonly file: string;
  readonly name: string;
  readonly returnNodes: ReturnNodes;
  readonly size?: number | readonly [number, number];
  readonly fixedSize?: true;
  readonly layout: Layout;
  readonly mode: Mode;
}

export const CONFIG_FILES = ["fxc.config.json", "fxc.config.ts"] as const;
const TOP_KEYS = ["$schema", "out", "extractors"] as const;
const EXTRACTOR_KEYS = ["model", "return", "name", "size", "fixedSize", "layout", "mode", "out"] as const;

/** The config file to read: `--config`, else the first of CONFIG_FILES in the folder. */
export function findConfig(folder: string, given: string | undefined): string {
  if (given !== undefined) return resolve(folder, given);
  const found = CONFIG_FILES.map((name) => join(folder, name)).find((file) => existsSync(file));
  if (found === undefined) throw new UsageError(`no ${CONFIG_FILES.join(" or ")} in ${folder}; write one listing your extractors (fxc build --help shows its form), or pass --config PATH`);
  return found;
}

/** Reads and checks a config file; every problem is a UsageError naming the file and the place in it. */
export async function loadConfig(file: string): Promise<BuildTarget[]> {
  const name = relative(process.cwd(), file) || file;
  return validateConfig(await readConfig(file, name), name, dirname(file));
}

async function readConfig(file: string, name: string): Promise<unknown> {
  if (file.endsWith(".ts") || file.endsWith(".mts") || file.endsWith(".js") || file.endsWith(".mjs")) {
    try {
      // A query string, so that --watch reads the file as it is now rather than the first import.
      const module = (await import(`${pathToFileURL(file).href}?t=${Date.now()}`)) as { default?: unknown };
      return module.default;
    } catch (e) {
      const code = errorCode(e);
      if (code === "ERR_UNKNOWN_FILE_EXTENSION") {
        throw new UsageError(`${name}: this Node (${process.version}) cannot import TypeScript; use fxc.config.json, or run fxc under Node 22.18+ or tsx`);
      }
      if (code === "ERR_MODULE_NOT_FOUND" && !existsSync(file)) throw new UsageError(`${name} does not exist; write it, or pass --config PATH`);
      throw new UsageError(`${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    const code = errorCode(e);
    if (code === "ENOENT") throw new UsageError(`${name} does not exist; write it, or pass --config PATH`);
    throw new UsageError(`${name} cannot be read (${code || String(e)}); check the file`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${name} is not JSON (${e instanceof Error ? e.message : String(e)}); fix the file`);
  }
}

type Json = Readonly<Record<string, unknown>>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** Checks every key and value of a config and resolves each extractor to its output file. */
export function validateConfig(config: unknown, name: string, folder: string): BuildTarget[] {
  const fail = (where: string, problem: string): never => {
    throw new UsageError(`${name}: ${where}${where ? ": " : ""}${problem}`);
  };
  if (!isObject(config)) return fail("", `must be an object with an "extractors" list`);
  checkKeys(config, TOP_KEYS, "", fail);
  const out = optionalString(config, "out", "", fail) ?? "generated";
  const extractors = config["extractors"];
  if (!Array.isArray(extractors) || extractors.length === 0) return fail("extractors", `must be a non-empty list of { "model": ..., "return": ... }`);
  const targets = extractors.map((entry: unknown, i) => extractorTarget(entry, `extractors[${i}]`, folder, out, fail));
  const byFile = new Map<string, string>();
  for (const t of targets) {
    const other = byFile.get(t.file);
    if (other !== undefined) fail(t.label, `writes ${relative(process.cwd(), t.file)} as ${other} does; give one of them another "name" or "out"`);
    byFile.set(t.file, t.label);
  }
  return targets;
}

type Fail = (where: string, problem: string) => never;

function extractorTarget(entry: unknown, where: string, folder: string, out: string, fail: Fail): BuildTarget {
  if (!isObject(entry)) return fail(where, `must be an object such as { "model": "resnet50", "return": "layer4" }`);
  checkKeys(entry, EXTRACTOR_KEYS, where, fail);
  const model = entry["model"];
  if (typeof model !== "string") return fail(`${where}.model`, "is missing; name a zoo model (fxc models lists them) or a file of yours (./src/my-net.ts#MyNet)");
  const user = userModelOf(model, `${where}.model`, folder, fail);
  if (user === undefined) {
    try {
      getModelEntry(model);
    } catch (e) {
      if (e instanceof UnknownNameError) fail(`${where}.model`, e.message);
      throw e;
    }
  }
  const label = `${where} (${model})`;
  const name = optionalString(entry, "name", where, fail) ?? (user === undefined ? model : userModelName(user));
  const nameProblem = moduleNameMessage(name);
  if (nameProblem !== undefined) fail(`${where}.name`, nameProblem);
  const layout = optionalChoice(entry, "layout", ["nhwc", "nchw"] as const, where, fail) ?? "nhwc";
  const mode = optionalChoice(entry, "mode", ["eval", "train"] as const, where, fail) ?? "eval";
  const size = sizeOf(entry["size"], `${where}.size`, fail);
  const fixedSize = entry["fixedSize"];
  if (fixedSize !== undefined && typeof fixedSize !== "boolean") fail(`${where}.fixedSize`, `must be true or false, got ${JSON.stringify(fixedSize)}`);
  const file = resolve(folder, optionalString(entry, "out", where, fail) ?? out, `${name}.ts`);
  return { label, model, ...(user === undefined ? {} : { user }), file, name, returnNodes: returnNodesOf(entry["return"], `${where}.return`, fail), ...(size === undefined ? {} : { size }), ...(fixedSize === true ? { fixedSize } : {}), layout, mode };
}

/** `./src/my-net.ts#MyNet` in a config: the file is relative to the config's folder, as `out` is. Undefined for a zoo model name. */
function userModelOf(model: string, where: string, folder: string, fail: Fail): UserModelSpec | undefined {
  if (!isUserModelSpec(model)) return undefined;
  try {
    const spec = parseUserModelSpec(model);
    return { ...spec, file: resolve(folder, spec.file) };
  } catch (e) {
    if (e instanceof UsageError) return fail(where, e.message);
    throw e;
  }
}

function checkKeys(o: Json, known: readonly string[], where: string, fail: Fail): void {
  for (const key of Object.keys(o)) {
    if (!known.includes(key)) fail(where, `unknown key '${key}'${didYouMean(key, known)} (keys: ${known.join(", ")})`);
  }
}

function optionalString(o: Json, key: string, where: string, fail: Fail): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v.length === 0) return fail(`${where ? `${where}.` : ""}${key}`, "must be a non-empty string");
  return v;
}

function optionalChoice<C extends string>(o: Json, key: string, choices: readonly C[], where: string, fail: Fail): C | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (!choices.includes(v as C)) return fail(`${where}.${key}`, `must be ${choices.map((c) => `"${c}"`).join(" or ")}, got ${JSON.stringify(v)}`);
  return v as C;
}

/** The return spec in any of its three forms, checked as --return is. */
function returnNodesOf(v: unknown, where: string, fail: Fail): ReturnNodes {
  const keyed = (pairs: readonly (readonly [unknown, unknown])[]): void => {
    for (const [node, key] of pairs) {
      if (typeof node !== "string" || node.length === 0 || typeof key !== "string") fail(where, "node names and keys must be non-empty strings");
      const problem = outputKeyMessage(key as string);
      if (problem !== undefined) fail(where, problem);
    }
  };
  if (typeof v === "string") {
    try {
      return parseReturnSpec(v);
    } catch (e) {
      // The spec's own refusals, placed in the file; anything else is a bug and stays one.
      if (e instanceof UsageError) return fail(where, e.message);
      throw e;
    }
  }
  if (Array.isArray(v) && v.length > 0) {
    keyed(v.map((node: unknown) => [node, node] as const));
    return v as string[];
  }
  if (isObject(v) && Object.keys(v).length > 0) {
    keyed(Object.entries(v));
    return v as Record<string, string>;
  }
  return fail(where, `is missing or empty; give nodes as "layer1,layer4:last", ["layer1", "layer4"] or { "layer4": "last" }`);
}

function sizeOf(v: unknown, where: string, fail: Fail): number | readonly [number, number] | undefined {
  if (v === undefined) return undefined;
  if (Array.isArray(v)) {
    if (v.length === 2 && v.every((n) => Number.isSafeInteger(n) && (n as number) > 0)) return [v[0] as number, v[1] as number];
    return fail(where, `must be a size such as 224, "224x160" or [224, 160], got ${JSON.stringify(v)}`);
  }
  if (typeof v !== "number" && typeof v !== "string") return fail(where, `must be a size such as 224, "224x160" or [224, 160], got ${JSON.stringify(v)}`);
  try {
    return parseSize(v);
  } catch (e) {
    if (e instanceof UsageError) return fail(where, e.message);
    throw e;
  }
}
