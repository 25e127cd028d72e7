import type { Argv } from "yargs";

export interface BuildArgs {
  model: string;
  return: string;
  size?: string;
  layout: "nhwc" | "nchw";
  mode: "eval" | "train";
  quiet: boolean;
}

/** Options every compiling command shares. */
export function buildOptions(y: Argv): Argv<BuildArgs> {
  return y
    .positional("model", { type: "string", demandOption: true, describe: "Model name (fxc models lists them)" })
    .option("return", { type: "string", demandOption: true, describe: "Return nodes: node[:key],... (a module path means its last node)" })
    .option("size", { type: "string", describe: "Input size, N or HxW; default: the model's own (224 for most)" })
    .option("layout", { choices: ["nhwc", "nchw"] as const, default: "nhwc" as const, describe: "Layout of the input and of image-like outputs" })
    .option("mode", { choices: ["eval", "train"] as const, default: "eval" as const, describe: "Which graph to compile" })
    .option("quiet", { type: "boolean", default: false, describe: "Print nothing but errors" }) as unknown as Argv<BuildArgs>;
}
