import type { Argv } from "yargs";
import { printWarning } from "../errors.js";
import { visualize } from "../../tasks/visualize.js";
import { cliExtractorLoader } from "../cache.js";
import { parseReturnSpec, positiveInt } from "../spec.js";
import { preprocessingOptions, preprocessingOverrides, type PreprocessingArgs } from "./extract.js";
import { engineArgs, engineOptions, type EngineArgs } from "./shared.js";
import type { Mode } from "../../pipeline.js";

interface VisualizeArgs extends PreprocessingArgs, EngineArgs {
  model: string;
  return: string;
  weights: string;
  image: string;
  out: string;
  top: number;
  mode: Mode;
  prefix?: string;
  quiet: boolean;
}

export function visualizeCommand(cli: Argv): Argv {
  return cli.command<VisualizeArgs>(
    "visualize <model>",
    "Draw each returned node's most active channels and its mean activation over one image, as PNGs",
    (y) =>
      preprocessingOptions(
        engineOptions(y)
          .positional("model", { type: "string", demandOption: true, describe: "Model name (fxc models lists them)" })
          .option("return", { type: "string", demandOption: true, describe: "Return nodes: node[:key],..." })
          .option("weights", { type: "string", demandOption: true, describe: "torchvision checkpoint (.pth/.pt) or .safetensors" })
          .option("image", { type: "string", demandOption: true, describe: "The image to look at" })
          .option("out", { type: "string", demandOption: true, describe: "Folder for KEY-channels.png and KEY-heatmap.png" })
          .option("top", { type: "number", default: 16, describe: "Channels per grid, by mean activation" })
          .option("mode", { choices: ["eval", "train"] as const, default: "eval" as const, describe: "Which graph to run" })
          .option("prefix", { type: "string", describe: "Read only checkpoint keys under this prefix" })
          .option("quiet", { type: "boolean", default: false, describe: "Print nothing but errors" }) as unknown as Argv<VisualizeArgs>,
      ).example("$0 visualize resnet50 --weights resnet50.pth --image cat.jpg --return layer2,layer3 --out pictures/", "") as Argv<VisualizeArgs>,
    async (args) => {
      positiveInt(args.top, "--top");
      const result = await visualize({
        model: args.model,
        returnNodes: parseReturnSpec(args.return),
        weights: args.weights,
        image: args.image,
        out: args.out,
        top: args.top,
        preprocessing: preprocessingOverrides(args),
        mode: args.mode,
        ...engineArgs(args),
        prefix: args.prefix,
        onWarning: args.quiet ? undefined : printWarning,
        loader: cliExtractorLoader,
      });
      if (args.quiet) return;
      for (const s of result.skipped) printWarning(`${s.key} is [${s.shape.join(", ")}], not a feature map; nothing drawn for it`);
      console.error(`fxc: wrote ${result.nodes.flatMap((n) => [n.channels, n.heatmap]).join(", ")}`);
    },
  );
}
