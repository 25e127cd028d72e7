import { watch } from "node:fs";
import { basename, dirname, relative } from "node:path";
import type { Argv } from "yargs";
import { compileProgram } from "../../api.js";
import { CONFIG_FILES, findConfig, loadConfig, type BuildTarget } from "../config.js";
import { describeFailure, printWarning, UsageError } from "../errors.js";
import { checkGenerated, writeGenerated } from "../generatedFile.js";

interface BuildArgs {
  config?: string;
  check: boolean;
  watch: boolean;
  quiet: boolean;
}

/** How long a burst of file events (an editor's write, rename and chmod) is let settle before one rebuild. */
const SETTLE_MS = 100;

export function buildCommand(cli: Argv): Argv {
  return cli.command<BuildArgs>(
    "build",
    `Compile every extractor listed in ${CONFIG_FILES.join(" (or ")}): {"out": "src/generated", "extractors": [{"model": "resnet50", "return": "layer1,layer4:last", "size": 224, "layout": "nhwc", "name": "backbone", "out": "..."}]}`,
    (y) =>
      y
        .option("config", { type: "string", describe: `Config file (default: ${CONFIG_FILES.join(", then ")} in the current folder)` })
        .option("check", { type: "boolean", default: false, describe: "Write nothing; exit 1 if any module differs from what would be written, printing the diffs" })
        .option("watch", { type: "boolean", default: false, describe: "Build, then build again whenever the config file changes (Ctrl-C ends)" })
        .option("quiet", { type: "boolean", default: false, describe: "Print nothing but errors" })
        .example("$0 build", "writes every module fxc.config.json lists, each only if it changed")
        .example("$0 build --check", "in CI: fails with a diff when a module is out of date") as Argv<BuildArgs>,
    async (args) => {
      if (args.check && args.watch) throw new UsageError("--check and --watch do not go together; check once in CI, watch while editing");
      const file = findConfig(process.cwd(), args.config);
      const command = `npx fxc build${args.config === undefined ? "" : ` --config ${relative(process.cwd(), file) || file}`}`;
      if (!args.watch) {
        await build(file, command, args);
        return;
      }
      await watchConfig(file, () => buildReporting(file, command, args));
    },
  );
}

/** Compiles every target of the config; with --check, compares instead of writing and fails after all are compared. */
async function build(file: string, command: string, args: BuildArgs): Promise<void> {
  const targets = await loadConfig(file);
  let stale = 0;
  for (const target of targets) {
    const source = await compileTarget(target, relative(process.cwd(), file) || file, command, args.quiet);
    const shown = relative(process.cwd(), target.file) || target.file;
    if (args.check) {
      const result = await checkGenerated(shown, source, command);
      if (result.current) {
        if (!args.quiet) console.error(`fxc: ${shown} is current`);
        continue;
      }
      if (result.diff !== undefined) process.stdout.write(result.diff);
      console.error(`fxc: ${result.problem}`);
      stale++;
      continue;
    }
    const written = await writeGenerated(target.file, source);
    if (!args.quiet) console.error(written === "written" ? `fxc: wrote ${shown}` : `fxc: ${shown} is current; left as it is`);
  }
  if (stale > 0) process.exitCode = 1;
}

/** One extractor's module; a failure names the extractor, keeping its kind (and so the exit code). */
async function compileTarget(target: BuildTarget, configName: string, command: string, quiet: boolean): Promise<string> {
  try {
    const { source } = await compileProgram(target.model, {
      returnNodes: target.returnNodes,
      ...(target.size === undefined ? {} : { size: target.size }),
      ...(target.fixedSize === undefined ? {} : { fixedSize: target.fixedSize }),
      layout: target.layout,
      mode: target.mode,
      name: target.name,
      command,
      onWarning: (message) => printWarning(`${configName}: ${target.label}: ${message}`),
      suppressDiffWarning: quiet,
    });
    return source;
  } catch (e) {
    if (e instanceof Error) e.message = `${configName}: ${target.label}: ${e.message}`;
    throw e;
  }
}

/** In watch mode a failed build is reported and the watch goes on: the next save may fix it. */
async function buildReporting(file: string, command: string, args: BuildArgs): Promise<void> {
  try {
    await build(file, command, args);
  } catch (e) {
    console.error(`fxc: ${describeFailure(e)}`);
  }
}

/**
 * Calls `rebuild` now and after each change of `file`, one at a time, until SIGINT or SIGTERM. The folder
 * is watched, not the file: editors save by writing a new file and renaming it over the old one,
 * which ends a watch on the file itself. The modules written are not the config, so they trigger nothing.
 */
function watchConfig(file: string, rebuild: () => Promise<void>): Promise<void> {
  const name = basename(file);
  let timer: NodeJS.Timeout | undefined;
  let queue = Promise.resolve();
  let watcher: ReturnType<typeof watch>;
  try {
    watcher = watch(dirname(file), (_event, changed) => {
      if (changed !== null && changed !== name) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        queue = queue.then(rebuild);
      }, SETTLE_MS);
    });
  } catch (e) {
    throw new UsageError(`cannot watch ${dirname(file)} (${e instanceof Error ? e.message : String(e)}); build without --watch`);
  }
  // Watching before the first build, so that a save during it is not missed.
  queue = queue.then(rebuild).then(() => console.error(`fxc: watching ${relative(process.cwd(), file) || file}; Ctrl-C ends`));
  return new Promise((resolve) => {
    const stop = (): void => {
      clearTimeout(timer);
      watcher.close();
      void queue.then(() => resolve());
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}
