import type { Argv } from "yargs";
import { BACKENDS, ENGINES, WEBGPU_KERNEL_CHOICES, type BackendName, type EngineChoice, type EngineName, type EngineReport, type WebgpuKernelChoice } from "@fxc/runtime";
import type { Layout, Mode } from "../../pipeline.js";

export interface BuildArgs {
  model: string;
  return: string;
  size?: string;
  layout: Layout;
  mode: Mode;
  quiet: boolean;
}

/** Options every compiling command shares; `fxc compile` also takes detectors, which need no --return (checked there). */
export function buildOptions(y: Argv, { detectors = false }: { readonly detectors?: boolean } = {}): Argv<BuildArgs> {
  return y
    .positional("model", {
      type: "string",
      demandOption: true,
      describe: `Model name (fxc models lists them)${detectors ? ", a detector (maskrcnn_resnet50_fpn, fasterrcnn_resnet50_fpn)" : ""}, or FILE#Export for a model of your own`,
    })
    .option("return", { type: "string", demandOption: !detectors, describe: `Return nodes: node[:key],... (a module path means its last node)${detectors ? "; required but for detectors" : ""}` })
    .option("size", { type: "string", describe: "Input size, N or HxW; default: the model's own (224 for most)" })
    .option("layout", { choices: ["nhwc", "nchw"] as const, default: "nhwc" as const, describe: "Layout of the input and of image-like outputs" })
    .option("mode", { choices: ["eval", "train"] as const, default: "eval" as const, describe: "Which graph to compile" })
    .option("quiet", { type: "boolean", default: false, describe: "Print nothing but errors" }) as unknown as Argv<BuildArgs>;
}

export interface EngineArgs {
  engine: EngineName | "auto";
  backend: BackendName | "auto";
  "webgpu-kernels": WebgpuKernelChoice;
  replay: boolean;
}

/** The engine choice the command line made, as the tasks take it. */
export function engineArgs(args: EngineArgs): EngineChoice {
  return { engine: args.engine, backend: args.backend, webgpuKernels: args["webgpu-kernels"], replay: args.replay };
}

/** What runs the extractor: the engine, and the tfjs backend (which holds the results on either engine). */
export function engineOptions<T>(y: Argv<T>): Argv<T & EngineArgs> {
  return y
    .option("engine", { choices: ["auto", ...ENGINES] as const, default: "auto" as const, describe: "What runs the model: onnxruntime (ONNX Runtime, CPU) or tfjs; auto picks onnxruntime when it is installed and can run the graph, tfjs on --backend webgpu" })
    .option("backend", { choices: ["auto", ...BACKENDS] as const, default: "auto" as const, describe: "tfjs backend (runs the model on the tfjs engine, holds results on both); auto picks webgpu only on a real GPU, never on a CPU emulation such as lavapipe" })
    .option("webgpu-kernels", {
      choices: WEBGPU_KERNEL_CHOICES,
      default: "tfjs" as WebgpuKernelChoice,
      describe: "On --backend webgpu, whose kernels run the model: tfjs's, fxc's own WGSL kernels where it has one (tfjs's for the rest), or fxc-f16: fxc's with the matrix products' multiplications in half precision (needs the GPU's shader-f16; opt-in, not fp32's numerics)",
    })
    .option("replay", {
      type: "boolean",
      default: false,
      describe: "On --backend webgpu, record each input shape's first forward and replay its GPU commands on later batches of that shape (one submit instead of tfjs's per-op work); off by default until a GPU measures it",
    }) as Argv<T & EngineArgs>;
}

/** How the engine line names a kernel set (tfjs's, the default, goes unsaid). */
const KERNELS_NAMED: Readonly<Record<WebgpuKernelChoice, string>> = { tfjs: "", fxc: ", fxc's WGSL kernels", "fxc-f16": ", fxc's WGSL kernels, half-precision products (fxc-f16)" };

/** The line saying what runs the model, and why not onnxruntime when auto fell back. */
export function engineLine(runner: EngineReport, workers = 1): string {
  const onAdapter = runner.adapter !== undefined ? ` on ${runner.adapter}` : "";
  const kernels = `${KERNELS_NAMED[runner.webgpuKernels ?? "tfjs"]}${runner.replay === true ? ", replayed" : ""}`;
  const where = runner.engine === "tfjs" ? `engine tfjs, backend ${runner.backend}${onAdapter}${kernels}` : `engine ${runner.engine}`;
  const inWorkers = workers > 1 ? ` in ${workers} workers` : "";
  const why = runner.fallback !== undefined ? ` (not onnxruntime: ${runner.fallback})` : "";
  const notGpu = runner.backendFallback !== undefined ? ` (not the GPU: ${runner.backendFallback})` : "";
  return `fxc: ${where}${inWorkers}${why}${notGpu}`;
}
