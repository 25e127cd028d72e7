import { spawn } from "node:child_process";
import { once } from "node:events";
import { watch, type FSWatcher } from "node:fs";
import { basename, dirname, relative } from "node:path";
import type { Argv } from "yargs";
import { compileProgram } from "../../api.js";
import { CONFIG_FILES, findConfig, loadConfig, type BuildTarget } from "../config.js";
import { describeFailure, printWarning, UsageError } from "../errors.js";
import { checkGenerated, writeGenerated } from "../generatedFile.js";
import { loadUserModel, localModuleFiles } from "../userModel.js";

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
        .option("watch", { type: "boolean", default: false, describe: "Build, then build again whenever the config file or a model file of yours (and the local modules it imports) changes (Ctrl-C ends)" })
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
      await watchBuild(file, () => buildInChild(args));
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
    const model = target.user === undefined ? target.model : await loadUserModel(target.user);
    const { source } = await compileProgram(model, {
      ...(target.user === undefined ? {} : { source: target.user.text }),
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

/**
 * One build of the watch, in a process of its own: Node cannot unload a module, so a user model
 * edited since the last build (or a module it imports) is only read anew by a fresh process. The
 * child is this command without --watch; it prints its own lines, and a failure (its exit code)
 * is left for the next save to fix.
 */
async function buildInChild(args: BuildArgs): Promise<void> {
  const script = process.argv[1];
  if (script === undefined) throw new UsageError("cannot tell which script runs fxc, so cannot rebuild; build without --watch");
  const forwarded = [...(args.config === undefined ? [] : ["--config", args.config]), ...(args.quiet ? ["--quiet"] : [])];
  const child = spawn(process.execPath, [...process.execArgv, script, "build", ...forwarded], { stdio: "inherit" });
  await once(child, "close").catch((e: unknown) => console.error(`fxc: the build could not start (${describeFailure(e)})`));
}

/** What a build reads that the user edits: the config, and each user model's file with the local modules it imports. Undefined when the config cannot be read now. */
async function filesOfBuild(file: string): Promise<Set<string> | undefined> {
  try {
    const targets = await loadConfig(file);
    const models = await Promise.all(targets.flatMap((t) => (t.user === undefined ? [] : [localModuleFiles(t.user.file)])));
    return new Set([file, ...models.flat()]);
  } catch {
    return undefined;
  }
}

/**
 * Calls `rebuild` now and after each change of a file the build reads (filesOfBuild, found again
 * after each build: the config may name other models now), one at a time, until SIGINT or SIGTERM.
 * Folders are watched, not files: editors save by writing a new file and renaming it over the old
 * one, which ends a watch on the file itself. The modules written are not among the files, so they
 * trigger nothing.
 */
async function watchBuild(config: string, rebuild: () => Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let queue = Promise.resolve();
  let files = new Set([config]);
  let watchers: FSWatcher[] = [];
  const closeWatchers = (): void => {
    for (const w of watchers) w.close();
    watchers = [];
  };
  const onChange = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      queue = queue.then(rebuildAndRewatch);
    }, SETTLE_MS);
  };
  const rewatch = (next: Set<string>): void => {
    files = next;
    closeWatchers();
    const byFolder = new Map<string, Set<string>>();
    for (const f of files) byFolder.set(dirname(f), (byFolder.get(dirname(f)) ?? new Set()).add(basename(f)));
    for (const [folder, names] of byFolder) {
      try {
        watchers.push(watch(folder, (_event, changed) => (changed === null || names.has(changed) ? onChange() : undefined)));
      } catch (e) {
        closeWatchers();
        throw new UsageError(`cannot watch ${folder} (${e instanceof Error ? e.message : String(e)}); build without --watch`);
      }
    }
  };
  const rebuildAndRewatch = async (): Promise<void> => {
    await rebuild();
    const next = (await filesOfBuild(config)) ?? new Set([...files, config]);
    if ([...next].sort().join("\n") !== [...files].sort().join("\n")) rewatch(next);
  };
  // Watching before the first build, so that a save during it is not missed.
  rewatch((await filesOfBuild(config)) ?? files);
  const shown = [...files].map((f) => relative(process.cwd(), f) || f);
  queue = queue.then(rebuildAndRewatch).then(() => console.error(`fxc: watching ${shown.join(", ")}; Ctrl-C ends`));
  return new Promise((resolve) => {
    const stop = (): void => {
      clearTimeout(timer);
      closeWatchers();
      void queue.then(() => resolve());
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}
