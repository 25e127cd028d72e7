import type { Argv } from "yargs";
import { printable, printableJson } from "@fxc/runtime/internal/io/printable";
import { engineArgs, engineOptions, type EngineArgs } from "./shared.js";
import { nearest, type NearestResult } from "../../tasks/nearest.js";
import { cliExtractorLoader } from "../cache.js";
import { UsageError, printWarning } from "../errors.js";
import { positiveInt } from "../spec.js";

interface NearestArgs extends EngineArgs {
  index: string[];
  key: string;
  query?: string[];
  "query-features"?: string[];
  top: number;
  json: boolean;
  weights?: string;
  prefix?: string;
  "skip-bad"?: boolean;
}

export function nearestCommand(cli: Argv): Argv {
  return cli.command<NearestArgs>(
    "nearest",
    "Rank indexed images by cosine similarity to query images or query features (retrieval, copy detection)",
    (y) =>
      engineOptions(y)
        .option("index", { type: "string", array: true, demandOption: true, describe: "Feature file(s) from fxc extract (shards in order)" })
        .option("key", { type: "string", demandOption: true, describe: "The output to compare (a key of the index)" })
        .option("query", { type: "string", array: true, describe: "Query images and folders, processed as the index's metadata says (needs --weights)" })
        .option("query-features", { type: "string", array: true, describe: "Query feature file(s) from fxc extract, with the same key" })
        .option("top", { type: "number", default: 5, describe: "Neighbours per query" })
        .option("json", { type: "boolean", default: false, describe: "Print JSON: [{query, neighbours: [{rank, path, score, row}]}]" })
        .option("weights", { type: "string", describe: "With --query: the checkpoint the index was made with" })
        .option("prefix", { type: "string", describe: "Read only checkpoint keys under this prefix" })
        .option("skip-bad", { type: "boolean", describe: "Skip unreadable query images instead of failing" })
        .example("$0 nearest --index index.safetensors --key layer4 --query photo.jpg --weights resnet50.pth", "")
        .example("$0 nearest --index index.safetensors --key layer4 --query-features queries.safetensors --json", "") as Argv<NearestArgs>,
    async (args) => {
      const images = args.query;
      const features = args["query-features"];
      if ((images === undefined) === (features === undefined)) throw new UsageError("give query images with --query, or query features with --query-features (one of the two)");
      positiveInt(args.top, "--top");
      if (images !== undefined && args.weights === undefined) {
        throw new UsageError("--query runs the index's model on the images: pass --weights, the checkpoint the index was made with");
      }
      const results = await nearest({
        index: args.index,
        key: args.key,
        top: args.top,
        query:
          images !== undefined
            ? {
                images,
                weights: args.weights!,
                ...engineArgs(args),
                prefix: args.prefix,
                skipBad: args["skip-bad"],
                onSkip: ({ error }) => printWarning(`skipped ${error.message}`),
                loader: cliExtractorLoader,
              }
            : { features: features! },
      });
      // Paths come from the index's metadata and from folder listings: escaped, so that they cannot drive the terminal.
      process.stdout.write(args.json ? `${printableJson(results)}\n` : table(results));
    },
  );
}

/** Per query, its path, then one line per neighbour: rank, score, path. */
function table(results: readonly NearestResult[]): string {
  return results
    .map((r) => [`query ${printable(r.query)}`, ...r.neighbours.map((n) => `${String(n.rank).padStart(4)}  ${n.score.toFixed(4)}  ${printable(n.path)}`)].join("\n"))
    .join("\n\n")
    .concat("\n");
}
