import { basename, dirname, join } from "node:path";
import type { Argv } from "yargs";
import { tf } from "@fxc/runtime";
import { readNpy } from "@fxc/runtime/internal/io/npy";
import { writeSafetensors } from "@fxc/runtime/internal/weights/safetensors";
import { FeatureWriter } from "@fxc/runtime/internal/io/featureStore";
import { parsePooling, DescriptorSpecError, type Pooling } from "@fxc/runtime/internal/descriptors/pooling";
import type { Preset } from "../../../models/zoo/entry.js";
import { DEFAULT_MAX_PREPROCESS_SIDE, MAX_PREPROCESS_SIDE_VARIABLE, preprocessSideProblem } from "@fxc/runtime/internal/images/limits";
import { extractFolder } from "../../tasks/extractFolder.js";
import { cliExtractorLoader } from "../cache.js";
import { InterruptedError, UsageError, printWarning } from "../errors.js";
import { progressBar, rate, type Progress } from "../progress.js";
import { cliModel } from "../userModel.js";
import { parseReturnSpec, positiveInt } from "../spec.js";
import { returnSpec } from "../../api.js";
import { buildOptions, engineLine, engineArgs, engineOptions, type BuildArgs, type EngineArgs } from "./shared.js";

/** Options that shape how images are read; `fxc nearest` and `fxc visualize` take them too. */
export interface PreprocessingArgs {
  resize?: number;
  crop?: number;
  mean?: string;
  std?: string;
  interpolation?: Preset["interpolation"];
}

interface ExtractArgs extends Omit<BuildArgs, "size">, PreprocessingArgs, EngineArgs {
  weights: string;
  input: string[];
  out: string;
  prefix?: string;
  batch?: number;
  pool?: string;
  normalize?: "l2" | "none";
  format?: "safetensors" | "npy";
  shard?: number;
  "skip-bad"?: boolean;
  workers: number;
}

export function preprocessingOptions<T>(y: Argv<T>): Argv<T & PreprocessingArgs> {
  return y
    .option("resize", { type: "number", describe: `Resize the shorter side to N pixels (default: the model's preset; at most ${DEFAULT_MAX_PREPROCESS_SIDE}, ${MAX_PREPROCESS_SIDE_VARIABLE} raises it)` })
    .option("crop", { type: "number", describe: `Center-crop to NxN after resizing (default: the model's preset; same limit)` })
    .option("mean", { type: "string", describe: "Normalization mean, R,G,B (default: the model's preset)" })
    .option("std", { type: "string", describe: "Normalization std, R,G,B (default: the model's preset)" })
    .option("interpolation", { choices: ["bilinear", "bicubic", "nearest"] as const, describe: "Resize filter (default: the model's preset)" }) as Argv<T & PreprocessingArgs>;
}

/** The preset overrides given on the command line. */
export function preprocessingOverrides(args: PreprocessingArgs): Partial<Preset> {
  return {
    resizeSize: sideSize(args.resize, "--resize"),
    cropSize: sideSize(args.crop, "--crop"),
    mean: triple(args.mean, "--mean"),
    std: triple(args.std, "--std", true),
    interpolation: args.interpolation,
  };
}

/** A `--resize` or `--crop` size: a positive whole number within the limit (`FXC_MAX_PREPROCESS_SIDE`). */
function sideSize(n: number | undefined, flag: string): number | undefined {
  if (positiveInt(n, flag) === undefined) return undefined;
  const problem = preprocessSideProblem(n!);
  if (problem !== undefined) throw new UsageError(`bad ${flag} ${n}: ${problem}; give a smaller size`);
  return n;
}

/** Image options that mean nothing for a .npy input. */
const IMAGE_ONLY = ["batch", "pool", "normalize", "format", "shard", "skip-bad", "resize", "crop", "mean", "std", "interpolation"] as const;

export function extractCommand(cli: Argv): Argv {
  return cli.command<ExtractArgs>(
    "extract <model>",
    "Run an extractor on images (files and folders) or a .npy array and write the features (runs the program fxc compile writes)",
    (y) =>
      engineOptions(preprocessingOptions(buildOptions(y) as unknown as Argv<ExtractArgs>))
        .option("weights", { type: "string", demandOption: true, describe: "torchvision checkpoint (.pth/.pt) or .safetensors" })
        .option("input", {
          type: "string",
          array: true,
          demandOption: true,
          describe: "Images (jpg, png, webp, gif, tiff) and folders of them, or one float32 .npy [N, H, W, 3] (nhwc) / [N, 3, H, W] (nchw)",
        })
        .option("out", { type: "string", demandOption: true, describe: "Output .safetensors file (one float32 tensor per key), or a folder with --format npy" })
        .option("format", { choices: ["safetensors", "npy"] as const, describe: "safetensors (default), or npy: KEY.npy per key and manifest.json in the --out folder" })
        .option("batch", { type: "number", describe: "Images per forward pass (default 16)" })
        .option("pool", { type: "string", describe: "Reduce each 4-D output to an [N, C] descriptor: avg, max, gem or gem:P" })
        .option("normalize", { choices: ["l2", "none"] as const, describe: "l2: divide each image's row by its norm (after pooling)" })
        .option("shard", { type: "number", describe: "Write a file per N images (OUT-00001.safetensors, ...)" })
        .option("skip-bad", { type: "boolean", describe: "Skip unreadable images and folders, and images over the limits, and count them, instead of failing" })
        .option("prefix", { type: "string", describe: "Read only checkpoint keys under this prefix (e.g. backbone.body.)" })
        .option("workers", { type: "number", default: 1, describe: "Worker threads, each with its own backend and weights; the batch is split between them" })
        .example("$0 extract resnet50 --return layer4 --weights resnet50.pth --input photos/ --pool gem --normalize l2 --out index.safetensors", "")
        .example("$0 extract resnet18 --return layer4 --weights resnet18.pth --input x.npy --out f.safetensors", "") as Argv<ExtractArgs>,
    async (args) => {
      if (!Number.isInteger(args.workers) || args.workers < 1) throw new UsageError(`bad --workers ${args.workers}; give a whole number of at least 1`);
      if (args.input.length === 1 && args.input[0]!.toLowerCase().endsWith(".npy")) await extractNpy(args);
      else await extractImages(args);
    },
  );
}

async function extractImages(args: ExtractArgs): Promise<void> {
  if (args.input.some((i) => i.toLowerCase().endsWith(".npy"))) {
    throw new UsageError("--input mixes a .npy array with images; give either one .npy file or image files and folders");
  }
  const format = args.format ?? "safetensors";
  const isSafetensors = args.out.toLowerCase().endsWith(".safetensors");
  if (format === "safetensors" && !isSafetensors) throw new UsageError(`--out ${args.out} is not a .safetensors file; name one, or write .npy files into a folder with --format npy`);
  if (format === "npy" && isSafetensors) throw new UsageError(`--format npy writes a folder, but --out ${args.out} names a .safetensors file; give a folder`);
  const pool = parsePoolArg(args.pool);
  const returnNodes = parseReturnSpec(args.return);
  const controller = new AbortController();
  const interrupt = (): void => controller.abort(new InterruptedError(`interrupted; no partial file was left under ${args.out}, and a previous output there is as it was`));
  process.once("SIGINT", interrupt);
  process.once("SIGTERM", interrupt);
  let progress: Progress | undefined;
  try {
    const result = await extractFolder({
      model: args.model,
      returnNodes,
      weights: args.weights,
      inputs: args.input,
      out: args.out,
      format,
      shard: positiveInt(args.shard, "--shard"),
      batchSize: positiveInt(args.batch, "--batch"),
      pool,
      normalize: args.normalize,
      preprocessing: preprocessingOverrides(args),
      layout: args.layout,
      mode: args.mode,
      ...engineArgs(args),
      prefix: args.prefix,
      skipBad: args["skip-bad"],
      workers: args.workers,
      signal: controller.signal,
      loader: cliExtractorLoader,
      onWarning: args.quiet ? undefined : printWarning,
      onStart: (info) => {
        if (!args.quiet) console.error(engineLine(info, args.workers));
        progress = progressBar(info.total, { quiet: args.quiet, label: "extract" });
      },
      onSkip: ({ error }) => {
        if (!args.quiet) printWarning(`skipped ${error.message}`);
      },
      onProgress: ({ done }) => progress?.update(done),
    });
    progress?.stop();
    const shapes = Object.entries(result.shapes).map(([key, shape]) => `${key} [${shape.join(", ")}]`).join(", ");
    const skipped = result.skipped.length > 0 ? `, ${result.skipped.length} skipped` : "";
    console.error(`fxc: wrote ${shapes} to ${describeFiles(result.files, format, args.out)} (${result.images} images${skipped}; ${rate(result.images + result.skipped.length, result.seconds)})`);
  } finally {
    progress?.stop();
    process.off("SIGINT", interrupt);
    process.off("SIGTERM", interrupt);
  }
}

function describeFiles(files: readonly string[], format: "safetensors" | "npy", out: string): string {
  if (format === "npy") return `${join(out, "")} (${files.length - 1} .npy files and manifest.json)`;
  if (files.length === 1) return files[0]!;
  return `${files.length} shards, ${basename(files[0]!)} to ${basename(files[files.length - 1]!)} in ${dirname(files[0]!)}`;
}

/** The original path: an input array already preprocessed, run as is. */
async function extractNpy(args: ExtractArgs): Promise<void> {
  const given = IMAGE_ONLY.filter((o) => args[o] !== undefined).map((o) => `--${o}`);
  if (given.length > 0) throw new UsageError(`${given.join(", ")} apply to image inputs, not to the array in ${args.input[0]}; drop them or pass images`);
  const file = args.input[0]!;
  // Before reading anything: the output must be writable and may replace neither the array nor the checkpoint.
  await FeatureWriter.check({ out: args.out, format: "safetensors" }, { given: [args.weights, file] });
  const input = await readNpy(file);
  if (input.shape.length !== 4) {
    throw new UsageError(`${file}: expected a 4-D array [N, H, W, 3] (nhwc) or [N, 3, H, W] (nchw), got shape [${input.shape.join(", ")}]`);
  }
  // extract compiles for the array's own height and width, so only its channels can disagree with the model.
  const [channels, otherLayoutChannels] = args.layout === "nhwc" ? [input.shape[3]!, input.shape[1]!] : [input.shape[1]!, input.shape[3]!];
  if (channels !== 3) {
    const otherLayout = args.layout === "nhwc" ? "nchw" : "nhwc";
    const expected = args.layout === "nhwc" ? "[N, H, W, 3]" : "[N, 3, H, W]";
    const fix = otherLayoutChannels === 3 ? `pass --layout ${otherLayout} if that is how the array is laid out` : `save the array with the 3 RGB channels (e.g. ${args.layout === "nhwc" ? "a[..., :3]" : "a[:, :3]"} for RGBA)`;
    throw new UsageError(`${file}: shape [${input.shape.join(", ")}] has ${channels} channel${channels === 1 ? "" : "s"}, but the model takes 3 (RGB) as ${expected} in --layout ${args.layout}; ${fix}`);
  }
  const [h, w] = args.layout === "nhwc" ? [input.shape[1]!, input.shape[2]!] : [input.shape[2]!, input.shape[3]!];
  const returnNodes = parseReturnSpec(args.return);
  const { extractor } = await cliExtractorLoader({
    // A model of the user's (FILE#Export) too: an .npy input needs no preset of torchvision's.
    model: (await cliModel(args.model)).model,
    returnNodes,
    size: [h, w],
    layout: args.layout,
    mode: args.mode,
    weights: args.weights,
    ...engineArgs(args),
    prefix: args.prefix,
    workers: args.workers,
    onWarning: args.quiet ? undefined : printWarning,
  });
  if (!args.quiet) console.error(engineLine(extractor, args.workers));
  try {
    const x = tf.tensor4d(input.data, input.shape as [number, number, number, number]);
    let features;
    try {
      features = await extractor.run(x);
    } finally {
      x.dispose();
    }
    const tensors = await Promise.all(
      Object.entries(features).map(async ([key, t]) => {
        const data = (await t.data()) as Float32Array;
        const shape = [...t.shape];
        t.dispose();
        return { key, shape, data };
      }),
    );
    await writeSafetensors(args.out, tensors, {
      model: args.model,
      return: returnSpec(returnNodes),
      layout: args.layout,
      mode: args.mode,
      input: file,
    });
    if (!args.quiet) console.error(`fxc: wrote ${tensors.map((t) => `${t.key} [${t.shape.join(", ")}]`).join(", ")} to ${args.out}`);
  } finally {
    await extractor.dispose();
  }
}

export function parsePoolArg(text: string | undefined): Pooling | undefined {
  if (text === undefined) return undefined;
  try {
    return parsePooling(text);
  } catch (error) {
    if (error instanceof DescriptorSpecError) throw new UsageError(`--pool: ${error.message}`);
    throw error;
  }
}

function triple(text: string | undefined, flag: string, positive = false): readonly [number, number, number] | undefined {
  if (text === undefined) return undefined;
  const values = text.split(",").map((s) => Number(s.trim()));
  if (values.length !== 3 || !values.every(Number.isFinite) || (positive && !values.every((v) => v > 0))) {
    throw new UsageError(`bad ${flag} '${text}'; give three ${positive ? "positive " : ""}numbers R,G,B such as 0.485,0.456,0.406`);
  }
  return values as [number, number, number];
}
