import { join } from "node:path";
import type { Argv } from "yargs";
import { compileCommand as commandLine, compileProgram } from "../../api.js";
import { GeneralizedRCNN } from "../../../models/index.js";
import { compileDetector } from "../../detection/detectorModule.js";
import { DEFAULT_NUM_CLASSES, DETECTORS, isDetectorName, namedDetector, refuseNumClasses } from "../detectors.js";
import { checkGenerated, writeGenerated } from "../generatedFile.js";
import { moduleNameMessage } from "../../names.js";
import { UsageError, printWarning } from "../errors.js";
import { parseReturnSpec, parseSize } from "../spec.js";
import { buildOptions, type BuildArgs } from "./shared.js";
import { cliModel, userModelName, type UserModelSpec } from "../userModel.js";

interface CompileArgs extends Omit<BuildArgs, "return"> {
  return?: string;
  out: string;
  name?: string;
  check: boolean;
  "fixed-size": boolean;
  "num-classes"?: number;
}

export function compileCommand(cli: Argv): Argv {
  return cli.command<CompileArgs>(
    "compile <model>",
    "Compile a feature extractor, or a detector (maskrcnn_resnet50_fpn...), into a typed TypeScript module",
    (y) =>
      (buildOptions(y, { detectors: true }) as unknown as Argv<CompileArgs>)
        .option("out", { type: "string", default: "generated", describe: "Folder to write NAME.ts into" })
        .option("name", { type: "string", describe: "Module name (file name and features interface); default: the model name" })
        .option("fixed-size", { type: "boolean", default: false, describe: "Keep the input at --size even where the network takes any height and width (by default a fully convolutional extractor takes any)" })
        .option("check", { type: "boolean", default: false, describe: "Write nothing; exit 1 if the file on disk differs from what would be written, printing the diff" })
        .option("num-classes", { type: "number", describe: `Classes of a named detector, background included (default ${DEFAULT_NUM_CLASSES}, COCO's)` })
        .example("$0 compile resnet50 --return layer1,layer4", "writes generated/resnet50.ts")
        .example("$0 compile resnet50 --return layer4:features --layout nchw", "renames the output key, NCHW in and out")
        .example("$0 compile ./src/my-net.ts#MyNet --return layer1", "a model of your own, built with fxc/models; writes generated/MyNet.ts")
        .example("$0 compile maskrcnn_resnet50_fpn", "a detector: writes generated/maskrcnn_resnet50_fpn.ts, whose load(weights) gives detect(images)") as Argv<CompileArgs>,
    async (args) => {
      // The API refuses the same names (an OptionsError); said here first, as a command line fxc cannot read.
      const nameProblem = args.name === undefined ? undefined : moduleNameMessage(args.name);
      if (nameProblem !== undefined) throw new UsageError(nameProblem);
      const { model, user } = isDetectorName(args.model) ? { model: namedDetector(args.model, args["num-classes"]), user: undefined } : await cliModel(args.model);
      const name = args.name ?? (user === undefined ? args.model : userModelName(user));
      if (model instanceof GeneralizedRCNN) {
        if (user !== undefined) refuseNumClasses(args.model, args["num-classes"]);
        return compileDetectorFile(model, user, name, args);
      }
      if (args["num-classes"] !== undefined) throw new UsageError(`--num-classes applies to the detectors (${Object.keys(DETECTORS).join(", ")}); ${args.model} is not one`);
      if (args.return === undefined) throw new UsageError("Missing required argument: return (node[:key],...; only detectors such as maskrcnn_resnet50_fpn take none)");
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
      await writeOrCheck(join(args.out, `${name}.ts`), source, command, args);
    },
  );
}

/** A detector's module: its stages compiled, written as one file; the extractor-only options are refused. */
async function compileDetectorFile(model: GeneralizedRCNN, user: UserModelSpec | undefined, name: string, args: CompileArgs): Promise<void> {
  const given = [
    ...(args.return !== undefined ? ["--return"] : []),
    ...(args.size !== undefined ? ["--size"] : []),
    ...(args["fixed-size"] ? ["--fixed-size"] : []),
    ...(args.layout !== "nhwc" ? ["--layout"] : []),
    ...(args.mode !== "eval" ? ["--mode"] : []),
  ];
  if (given.length > 0) throw new UsageError(`${given.join(", ")} ${given.length > 1 ? "apply" : "applies"} to extractors; ${args.model} is a detector (eval mode, NCHW images of any size, all its outputs): drop ${given.length > 1 ? "them" : "it"}`);
  const command = commandLine(user?.text ?? args.model, { out: args.out, name, ...(args["num-classes"] === undefined ? {} : { numClasses: args["num-classes"] }) });
  const source = await compileDetector(model, { name, model: user === undefined ? args.model : userModelName(user), ...(user === undefined ? {} : { source: user.text }), command });
  await writeOrCheck(join(args.out, `${name}.ts`), source, command, args);
}

/** Writes the module (only when its content changes), or with --check compares it with the file on disk. */
async function writeOrCheck(file: string, source: string, command: string, args: Pick<CompileArgs, "check" | "quiet">): Promise<void> {
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
}
