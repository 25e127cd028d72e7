import type { Preset } from "../../models/zoo/entry.js";
import { listModels } from "../../models/zoo/registry.js";
import type { BackendName, EngineName, WeightsInput } from "../../runtime/index.js";
import { CosineIndex } from "../../runtime/descriptors/nearest.js";
import { parseNormalization, parsePooling, type Normalization, type Pooling } from "../../runtime/descriptors/pooling.js";
import { readFeatureTable, type FeatureTable } from "../../runtime/io/featureStore.js";
import { concatFloat32 } from "../../runtime/weights/dtype.js";
import { WeightsError } from "../../runtime/weights/types.js";
import type { ReturnNodes } from "../passes/returnNodes.js";
import { imageFeatures } from "./extractFolder.js";
import { interpretExtractor, resolvePreprocessing, type ExtractorLoader } from "./loader.js";
import type { ImageFailure } from "../../runtime/images/batches.js";

/** Query images: run through the model, return node, preprocessing and pooling the index records. */
export interface ImageQuery {
  readonly images: string | readonly string[];
  /** The checkpoint the index was made with. */
  readonly weights: WeightsInput;
  /** The engine: onnxruntime, tfjs, or auto (default: onnxruntime when installed and able, else tfjs). */
  readonly engine?: EngineName | "auto";
  readonly backend?: BackendName | "auto";
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
  readonly layout: "nhwc" | "nchw";
  readonly mode: "train" | "eval";
  readonly preprocessing: Preset;
  readonly pool?: Pooling;
  readonly normalize: Normalization;
}

/** Reads the recipe of an index for `key`, keeping only that key's return node. */
export function indexRecipe(table: FeatureTable, file: string): IndexRecipe {
  const m = table.metadata;
  const bad = (what: string): WeightsError => new WeightsError(file, `its metadata does not say ${what}`, "make the index with fxc extract from images, or query it with --query-features");
  if (m.model === undefined) throw bad("which model made it");
  if (m.return === undefined) throw bad("which return nodes it holds");
  if (m.preprocessing === undefined) throw bad("how images were preprocessed");
  const pairs = m.return.split(",").map((item) => {
    const [node, key] = item.split(":");
    return [node!, key ?? node!] as const;
  });
  const pair = pairs.find(([, key]) => key === table.key);
  if (pair === undefined) throw bad(`which node made '${table.key}'`);
  if (!listModels().includes(m.model)) {
    throw new WeightsError(file, `was made with model '${m.model}', which is not in fxc's zoo`, "extract the queries the same way and pass them as query features (--query-features)");
  }
  let overrides: Partial<Preset>;
  try {
    overrides = JSON.parse(m.preprocessing) as Partial<Preset>;
  } catch {
    throw bad("how images were preprocessed (its 'preprocessing' is not JSON)");
  }
  return {
    model: m.model,
    returnNodes: pair[0] === pair[1] ? [pair[0]] : { [pair[0]]: pair[1] },
    layout: m.layout === "nchw" && (m.pool === undefined || m.pool === "none") ? "nchw" : "nhwc",
    mode: m.mode === "train" ? "train" : "eval",
    preprocessing: resolvePreprocessing(m.model, overrides),
    pool: m.pool === undefined || m.pool === "none" ? undefined : parsePooling(m.pool),
    normalize: parseNormalization(m.normalize ?? "none"),
  };
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
    backend: query.backend,
    engine: query.engine,
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
