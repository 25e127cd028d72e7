import type { Preset } from "../../models/zoo/entry.js";
import { listModels } from "../../models/zoo/registry.js";
import { engineChoice, type EngineChoice, type WeightsInput } from "@fxc/runtime";
import { CosineIndex } from "@fxc/runtime/internal/descriptors/nearest";
import { DescriptorSpecError, parseNormalization, parsePooling, type Normalization, type Pooling } from "@fxc/runtime/internal/descriptors/pooling";
import { printable } from "@fxc/runtime/internal/io/printable";
import { readFeatureTable, type FeatureTable } from "@fxc/runtime/internal/io/featureStore";
import { concatFloat32 } from "@fxc/runtime/internal/weights/dtype";
import { WeightsError } from "@fxc/runtime/internal/weights/types";
import type { ReturnNodes } from "../passes/returnNodes.js";
import { OptionsError, type Layout, type Mode } from "../pipeline.js";
import { imageFeatures } from "./extractFolder.js";
import { interpretExtractor, resolvePreprocessing, type ExtractorLoader } from "./loader.js";
import type { ImageFailure } from "@fxc/runtime/internal/images/batches";

/** Query images: run through the model, return node, preprocessing and pooling the index records. */
export interface ImageQuery extends EngineChoice {
  readonly images: string | readonly string[];
  /** The checkpoint the index was made with. */
  readonly weights: WeightsInput;
  readonly prefix?: string;
  readonly skipBad?: boolean;
  readonly onSkip?: (failure: ImageFailure) => void;
  readonly loader?: ExtractorLoader;
}

/** Query rows already extracted: feature files holding the same key. */
export interface FeatureQuery {
  readonly features: string | readonly string[];
}

export interface NearestOptions {
  /** Feature files written by `extractFolder` / `fxc extract` (shards in order). */
  readonly index: string | readonly string[];
  /** Which output to compare. */
  readonly key: string;
  readonly query: ImageQuery | FeatureQuery;
  /** Neighbours per query; 5 by default. */
  readonly top?: number;
}

export interface Neighbour {
  readonly rank: number;
  readonly path: string;
  /** Cosine similarity, 1 for the same direction. */
  readonly score: number;
  /** The row in the index. */
  readonly row: number;
}

export interface NearestResult {
  readonly query: string;
  readonly neighbours: readonly Neighbour[];
}

/**
 * Ranks the indexed images by cosine similarity to each query: retrieval, and copy detection when
 * the descriptors are pooled and L2-normalized (`--pool gem --normalize l2`).
 */
export async function nearest(options: NearestOptions): Promise<NearestResult[]> {
  const index = await readFeatureTable(options.index, options.key);
  const indexFile = typeof options.index === "string" ? options.index : options.index[0]!;
  const queries = "features" in options.query ? await readFeatureTable(options.query.features, options.key) : await embedImages(index, indexFile, options.query);
  if (queries.dim !== index.dim) {
    throw new WeightsError(
      indexFile,
      `holds ${index.dim} values per row for '${options.key}' but the queries have ${queries.dim}`,
      "make the queries with the same model, return spec, preprocessing and pooling",
    );
  }
  const search = new CosineIndex(index.data, index.dim);
  const top = options.top ?? 5;
  return queries.paths.map((query, q) => ({
    query,
    neighbours: search.search(queries.data.subarray(q * queries.dim, (q + 1) * queries.dim), top).map((m, i) => ({ rank: i + 1, path: index.paths[m.row]!, score: m.score, row: m.row })),
  }));
}

/** What an index's metadata says about how its rows were made. */
export interface IndexRecipe {
  readonly model: string;
  readonly returnNodes: ReturnNodes;
  readonly layout: Layout;
  readonly mode: Mode;
  readonly preprocessing: Preset;
  readonly pool?: Pooling;
  readonly normalize: Normalization;
}

/**
 * Reads the recipe of an index for `key`, keeping only that key's return node. The metadata is
 * checked as a command line is (an index file may come from anyone): a model in the zoo, node names,
 * preprocessing fields of the right types and within the limits, a pooling fxc knows.
 */
export function indexRecipe(table: FeatureTable, file: string): IndexRecipe {
  const m = table.metadata;
  const remake = "make the index with fxc extract from images, or query it with --query-features";
  const bad = (what: string): WeightsError => new WeightsError(file, `its metadata does not say ${what}`, remake);
  const unusable = (problem: string): WeightsError => new WeightsError(file, `its metadata ${problem}`, remake);
  if (m.model === undefined) throw bad("which model made it");
  if (m.return === undefined) throw bad("which return nodes it holds");
  if (m.preprocessing === undefined) throw bad("how images were preprocessed");
  const pairs = m.return.split(",").map((item) => {
    const [node, key] = item.split(":");
    return [node!, key ?? node!] as const;
  });
  const pair = pairs.find(([, key]) => key === table.key);
  if (pair === undefined) throw bad(`which node made '${printable(table.key)}'`);
  if (!NODE_NAME.test(pair[0])) throw unusable(`names node '${printable(pair[0])}' for '${printable(table.key)}', which is not a node name`);
  if (!listModels().includes(m.model)) {
    throw new WeightsError(file, `was made with model '${printable(m.model)}', which is not in fxc's zoo`, "extract the queries the same way and pass them as query features (--query-features)");
  }
  let preprocessing: Preset;
  let pool: Pooling | undefined;
  let normalize: Normalization;
  try {
    preprocessing = resolvePreprocessing(m.model, presetOverrides(m.preprocessing));
    pool = m.pool === undefined || m.pool === "none" ? undefined : parsePooling(m.pool);
    normalize = parseNormalization(m.normalize ?? "none");
  } catch (error) {
    if (error instanceof OptionsError || error instanceof DescriptorSpecError) throw unusable(`cannot be used: ${printable(error.message)}`);
    throw error;
  }
  return {
    model: m.model,
    returnNodes: pair[0] === pair[1] ? [pair[0]] : { [pair[0]]: pair[1] },
    layout: m.layout === "nchw" && pool === undefined ? "nchw" : "nhwc",
    mode: m.mode === "train" ? "train" : "eval",
    preprocessing,
    pool,
    normalize,
  };
}

/** torchvision's node names: module paths and torch.fx op names (`layer1.0.relu_1`, `features.3`). */
const NODE_NAME = /^[A-Za-z0-9_.]+$/;

/**
 * The preset fields of an index's `preprocessing` metadata (JSON), type-checked; values are then
 * checked as user overrides are (`resolvePreprocessing`). Fields fxc does not know are ignored.
 */
function presetOverrides(text: string): Partial<Preset> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new OptionsError("'preprocessing' is not JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new OptionsError("'preprocessing' is not a JSON object");
  const fields = parsed as Record<string, unknown>;
  const out: { -readonly [K in keyof Preset]?: Preset[K] } = {};
  for (const key of ["resizeSize", "cropSize"] as const) {
    const value = fields[key];
    if (value === undefined) continue;
    if (typeof value !== "number") throw new OptionsError(`preprocessing ${key} is not a number`);
    out[key] = value;
  }
  for (const key of ["mean", "std"] as const) {
    const value = fields[key];
    if (value === undefined) continue;
    if (!Array.isArray(value) || value.length !== 3 || !value.every((v) => typeof v === "number")) throw new OptionsError(`preprocessing ${key} is not three numbers`);
    out[key] = value as [number, number, number];
  }
  const interpolation = fields.interpolation;
  if (interpolation !== undefined) {
    if (interpolation !== "bilinear" && interpolation !== "bicubic" && interpolation !== "nearest") throw new OptionsError("preprocessing interpolation is not bilinear, bicubic or nearest");
    out.interpolation = interpolation;
  }
  return out;
}

async function embedImages(index: FeatureTable, indexFile: string, query: ImageQuery): Promise<FeatureTable> {
  const recipe = indexRecipe(index, indexFile);
  const loaded = await (query.loader ?? interpretExtractor)({
    model: recipe.model,
    returnNodes: recipe.returnNodes,
    size: recipe.preprocessing.cropSize,
    layout: recipe.layout,
    mode: recipe.mode,
    weights: query.weights,
    ...engineChoice(query),
    prefix: query.prefix,
  });
  try {
    const paths: string[] = [];
    const rows: Float32Array[] = [];
    for await (const batch of imageFeatures(loaded, query.images, { ...recipe, skipBad: query.skipBad, onSkip: query.onSkip })) {
      paths.push(...batch.paths);
      rows.push(batch.tensors[index.key]!.data);
    }
    const data = concatFloat32(rows);
    return { key: index.key, paths, data, dim: paths.length > 0 ? data.length / paths.length : index.dim, metadata: index.metadata };
  } finally {
    await loaded.extractor.dispose();
  }
}
