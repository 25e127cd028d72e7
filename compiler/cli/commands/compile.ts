import { join } from "node:path";
import type { Argv } from "yargs";
import { compileProgram } from "../../api.js";
import { checkGenerated, writeGenerated } from "../generatedFile.js";
import { moduleNameMessage } from "../../names.js";
import { UsageError, printWarning } from "../errors.js";
import { parseReturnSpec, parseSize } from "../spec.js";
import { buildOptions, type BuildArgs } from "./shared.js";
import { cliModel, userModelName } from "../userModel.js";

interface CompileArgs extends BuildArgs {
  out: string;
  name?: string;
  check: boolean;
  "fixed-size": boolean;
}

export function compileCommand(cli: Argv): Argv {
  return cli.command<CompileArgs>(
    "compile <model>",
    "Compile a feature extractor into a typed TypeScript module",
    (y) =>
      buildOptions(y)
        .option("out", { type: "string", default: "generated", describe: "Folder to write NAME.ts into" })
        .option("name", { type: "string", describe: "Module name (file name and features interface); default: the model name" })
        .option("fixed-size", { type: "boolean", default: false, describe: "Keep the input at --size even where the network takes any height and width (by default a fully convolutional extractor takes any)" })
        .option("check", { type: "boolean", default: false, describe: "Write nothing; exit 1 if the file on disk differs from what would be written, printing the diff" })
        .example("$0 compile resnet50 --return layer1,layer4", "writes generated/resnet50.ts")
        .example("$0 compile resnet50 --return layer4:features --layout nchw", "renames the output key, NCHW in and out")
        .example("$0 compile ./src/my-net.ts#MyNet --return layer1", "a model of your own, built with fxc/models; writes generated/MyNet.ts") as Argv<CompileArgs>,
    async (args) => {
      const { model, user } = await cliModel(args.model);
      const name = args.name ?? (user === undefined ? args.model : userModelName(user));
      // The API refuses the same names (an OptionsError); said here first, as a command line fxc cannot read.
      const nameProblem = args.name === undefined ? undefined : moduleNameMessage(args.name);
      if (nameProblem !== undefined) throw new UsageError(nameProblem);
      const returnNodes = parseReturnSpec(args.return);
      const { source, command } = await compileProgram(model, {
        ...(user === undefined ? {} : { source: user.text }),
        returnNodes,
        size: parseSize(args.size),
        ...(args["fixed-size"] ? { fixedSize: true } : {}),
        layout: args.layout,
        mode: args.mode,
        name,
        out: args.out,
        onWarning: printWarning,
        suppressDiffWarning: args.quiet,
      });
      const file = join(args.out, `${name}.ts`);
      if (args.check) {
        const result = await checkGenerated(file, source, command);
        if (!result.current) {
          if (result.diff !== undefined) process.stdout.write(result.diff);
          console.error(`fxc: ${result.problem}`);
          process.exitCode = 1;
          return;
        }
        if (!args.quiet) console.error(`fxc: ${file} is current`);
        return;
      }
      const written = await writeGenerated(file, source);
      if (!args.quiet) console.error(written === "written" ? `fxc: wrote ${file}` : `fxc: ${file} is current; left as it is`);
    },
  );
}
