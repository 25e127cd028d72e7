#!/usr/bin/env node
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { buildCommand } from "./commands/build.js";
import { compileCommand } from "./commands/compile.js";
import { detectCommand } from "./commands/detect.js";
import { extractCommand } from "./commands/extract.js";
import { nodesCommand } from "./commands/nodes.js";
import { modelsCommand } from "./commands/models.js";
import { InterruptedError, UsageError, describeFailure } from "./errors.js";
import { nearestCommand } from "./commands/nearest.js";
import { visualizeCommand } from "./commands/visualize.js";
import { FXC_VERSION } from "../version.js";

/** fxc's command line: every failure is one line on stderr and a non-zero exit code. */
export async function main(argv: string[]): Promise<number> {
  const cli = yargs(argv)
    .scriptName("fxc")
    .usage("$0 <command> [options]\n\nCompile torchvision feature extractors to typed TypeScript over TensorFlow.js.")
    .version(FXC_VERSION)
    .strict()
    .demandCommand(1, "name a command: compile, build, extract, detect, nearest, visualize, nodes or models")
    .recommendCommands()
    .help()
    .alias("h", "help")
    .wrap(Math.min(120, process.stdout.columns || 100))
    // Usage mistakes become errors here, so that one place prints every failure.
    .fail((message, error) => {
      throw error ?? new UsageError(`${message}; see fxc --help`);
    })
    // The command's switches are known once its builder ran, as middleware runs (getOptions is not in yargs's typings).
    .middleware(() => refuseSwitchValues(argv, (cli as unknown as { getOptions(): { readonly boolean: readonly string[] } }).getOptions().boolean));
  for (const add of [compileCommand, buildCommand, extractCommand, detectCommand, nearestCommand, visualizeCommand, nodesCommand, modelsCommand]) add(cli);
  try {
    await cli.parseAsync();
  } catch (e) {
    console.error(`fxc: ${describeFailure(e)}`);
    process.exitCode = e instanceof UsageError ? 2 : e instanceof InterruptedError ? 130 : 1;
  }
  return Number(process.exitCode ?? 0);
}

/**
 * yargs reads `--quiet=maybe` (any value but true or false given to a switch) as false, silently:
 * such a value is refused instead, naming the switch's two forms.
 */
function refuseSwitchValues(argv: readonly string[], switches: readonly string[]): void {
  for (const arg of argv) {
    if (arg === "--") return;
    const given = /^--([^=]+)=(.*)$/s.exec(arg);
    if (given === null || !switches.includes(given[1]!) || /^(true|false)$/.test(given[2]!)) continue;
    throw new UsageError(`--${given[1]} is a switch and takes no value (${JSON.stringify(given[2])}); give --${given[1]} or --no-${given[1]}`);
  }
}

// A reader that stops early (`fxc nodes resnet50 | head`) ends the output, not the run with a stack trace.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code !== "EPIPE") throw e;
  process.exit(process.exitCode ?? 0);
});

await main(hideBin(process.argv));
