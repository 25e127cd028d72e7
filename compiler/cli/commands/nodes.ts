import type { Argv } from "yargs";
import { getGraphNodeNames } from "../../api.js";
import { parseSize } from "../spec.js";
import { cliModel } from "../userModel.js";
import type { Mode } from "../../pipeline.js";

interface NodesArgs {
  model: string;
  mode?: Mode;
  json: boolean;
  size?: string;
}

export function nodesCommand(cli: Argv): Argv {
  return cli.command<NodesArgs>(
    "nodes <model>",
    "Print a model's graph node names, in execution order (torchvision's get_graph_node_names)",
    (y) =>
      y
        .positional("model", { type: "string", demandOption: true, describe: "Model name (fxc models lists them), or FILE#Export for a model of your own" })
        .option("mode", { choices: ["train", "eval"] as const, describe: "Only this graph (default: eval, or both with --json)" })
        .option("json", { type: "boolean", default: false, describe: 'Print {"train": [...], "eval": [...]}' })
        .option("size", { type: "string", describe: "Input size to trace at" }) as Argv<NodesArgs>,
    async (args) => {
      const names = getGraphNodeNames((await cliModel(args.model)).model, { size: parseSize(args.size), suppressDiffWarning: true });
      if (args.json) {
        const out = args.mode === undefined ? names : { [args.mode]: names[args.mode] };
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        return;
      }
      process.stdout.write(`${names[args.mode ?? "eval"].join("\n")}\n`);
    },
  );
}
