import type { Argv } from "yargs";
import { compile } from "../../api.js";
import { BACKENDS, createExtractorPool, tf, type BackendName, type Extractor, type LoadOptions, type PoolOptions, type Tensor, type Tensor4D, type WeightsInput } from "../../../runtime/index.js";
import { readNpy } from "../../../runtime/io/npy.js";
import { writeSafetensors } from "../../../runtime/weights/safetensors.js";
import { cacheCompiled, importCompiled } from "../cache.js";
import { UsageError } from "../errors.js";
import { parseReturnSpec, returnSpecText } from "../spec.js";
import { buildOptions, type BuildArgs } from "./shared.js";

interface ExtractArgs extends Omit<BuildArgs, "size"> {
  weights: string;
  input: string;
  out: string;
  backend: BackendName | "auto";
  prefix?: string;
  workers: number;
}

/** What a generated module exports, as extract uses it. */
interface CompiledModule {
  load(weights: WeightsInput, options?: LoadOptions): Promise<Extractor<Record<string, Tensor>>>;
}

/** One thread's extractor or a pool of workers, behind one interface. */
interface Runner {
  readonly backend: BackendName;
  forward(x: Tensor4D): Record<string, Tensor> | Promise<Record<string, Tensor>>;
  dispose(): void | Promise<void>;
}

async function poolRunner(moduleUrl: string, weights: string, options: PoolOptions): Promise<Runner> {
  const pool = await createExtractorPool(moduleUrl, weights, options);
  return { backend: pool.backend, forward: (x) => pool.forward(x), dispose: () => pool.dispose() };
}

export function extractCommand(cli: Argv): Argv {
  return cli.command<ExtractArgs>(
    "extract <model>",
    "Run an extractor on an input .npy and write the features to .safetensors (runs the code fxc compile writes)",
    (y) =>
      (buildOptions(y) as unknown as Argv)
        .option("weights", { type: "string", demandOption: true, describe: "torchvision checkpoint (.pth/.pt) or .safetensors" })
        .option("input", { type: "string", demandOption: true, describe: "float32 .npy input, [N, H, W, 3] (nhwc) or [N, 3, H, W] (nchw); H and W set the compiled size" })
        .option("out", { type: "string", demandOption: true, describe: "Output .safetensors: one float32 tensor per key" })
        .option("backend", { choices: ["auto", ...BACKENDS] as const, default: "auto" as const, describe: "tfjs backend" })
        .option("prefix", { type: "string", describe: "Read only checkpoint keys under this prefix (e.g. backbone.body.)" })
        .option("workers", { type: "number", default: 1, describe: "Worker threads, each with its own backend and weights; the batch is split between them" })
        .example("$0 extract resnet18 --return layer4 --weights resnet18.pth --input x.npy --out f.safetensors", "") as Argv<ExtractArgs>,
    async (args) => {
      const input = await readNpy(args.input);
      if (input.shape.length !== 4) {
        throw new UsageError(`${args.input}: expected a 4-D array [N, H, W, 3] (nhwc) or [N, 3, H, W] (nchw), got shape [${input.shape.join(", ")}]`);
      }
      const [h, w] = args.layout === "nhwc" ? [input.shape[1]!, input.shape[2]!] : [input.shape[2]!, input.shape[3]!];
      const returnNodes = parseReturnSpec(args.return);
      const source = await compile(args.model, {
        returnNodes,
        size: [h, w],
        layout: args.layout,
        mode: args.mode,
        onWarning: (m) => console.error(`fxc: warning: ${m}`),
        suppressDiffWarning: args.quiet,
      });
      if (!Number.isInteger(args.workers) || args.workers < 1) throw new UsageError(`bad --workers ${args.workers}; give a whole number of at least 1`);
      const loadOptions = { backend: args.backend, prefix: args.prefix };
      const extractor: Runner =
        args.workers > 1
          ? await poolRunner(await cacheCompiled(source), args.weights, { ...loadOptions, workers: args.workers })
          : await (await importCompiled<CompiledModule>(source)).load(args.weights, loadOptions);
      if (!args.quiet) console.error(`fxc: backend ${extractor.backend}${args.workers > 1 ? ` in ${args.workers} workers` : ""}`);
      try {
        const x = tf.tensor4d(input.data, input.shape as [number, number, number, number]);
        let features: Record<string, Tensor>;
        try {
          features = await extractor.forward(x);
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
          return: returnSpecText(returnNodes),
          layout: args.layout,
          mode: args.mode,
          input: args.input,
        });
        if (!args.quiet) console.error(`fxc: wrote ${tensors.map((t) => `${t.key} [${t.shape.join(", ")}]`).join(", ")} to ${args.out}`);
      } finally {
        await extractor.dispose();
      }
    },
  );
}
