import type { Argv } from "yargs";
import { DEFAULT_SCORE_THRESHOLD, detectImages, scoreThresholdProblem } from "../../tasks/detect.js";
import { InterruptedError, UsageError, printWarning } from "../errors.js";
import { progressBar, rate, type Progress } from "../progress.js";
import { DETECTORS, detectorModel } from "../detectors.js";
import { engineLine, engineArgs, engineOptions, type EngineArgs } from "./shared.js";

interface DetectArgs extends EngineArgs {
  model: string;
  weights: string;
  input: string[];
  out: string;
  "score-threshold": number;
  "num-classes"?: number;
  visualize?: string;
  "skip-bad"?: boolean;
  quiet: boolean;
}

export function detectCommand(cli: Argv): Argv {
  return cli.command<DetectArgs>(
    "detect <model>",
    "Detect objects in images with Mask R-CNN or Faster R-CNN: per image NAME.json (boxes, labels, scores) and masks as PNG",
    (y) =>
      (
        engineOptions(y)
          .positional("model", { type: "string", demandOption: true, describe: `${Object.keys(DETECTORS).join(" or ")}, or FILE#Export for a detector of your own` })
          .option("weights", { type: "string", demandOption: true, describe: "torchvision checkpoint (.pth/.pt) or .safetensors, e.g. maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth" })
          .option("input", { type: "string", array: true, demandOption: true, describe: "Images (jpg, png, webp, gif, tiff) and folders of them" })
          .option("out", { type: "string", demandOption: true, describe: "Folder for NAME.json and NAME.mask-K.png per image" })
          .option("score-threshold", { type: "number", default: DEFAULT_SCORE_THRESHOLD, describe: "Keep detections scoring at least this, in [0, 1]" })
          .option("num-classes", { type: "number", describe: "Classes of a named model, background included (default 91, COCO's: labels are COCO's names); a checkpoint for another count is refused, naming its count" })
          .option("visualize", { type: "string", describe: "Folder for NAME.png: each image with its boxes, labels and masks drawn" })
          .option("skip-bad", { type: "boolean", describe: "Skip images that cannot be decoded, and count them, instead of failing" })
          .option("quiet", { type: "boolean", default: false, describe: "Print nothing but errors" }) as unknown as Argv<DetectArgs>
      ).example("$0 detect maskrcnn_resnet50_fpn --weights maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth --input photos/ --out detections/ --visualize drawn/", "") as Argv<DetectArgs>,
    async (args) => {
      const threshold = args["score-threshold"];
      const problem = scoreThresholdProblem(threshold);
      if (problem !== undefined) throw new UsageError(`bad --score-threshold: ${problem}`);
      const { model } = await detectorModel(args.model, args["num-classes"]);
      const controller = new AbortController();
      const interrupt = (): void => controller.abort(new InterruptedError(`interrupted; nothing was written under ${args.out}${args.visualize === undefined ? "" : ` or ${args.visualize}`}`));
      process.once("SIGINT", interrupt);
      process.once("SIGTERM", interrupt);
      let progress: Progress | undefined;
      try {
        const result = await detectImages({
          model,
          weights: args.weights,
          inputs: args.input,
          out: args.out,
          scoreThreshold: threshold,
          visualize: args.visualize,
          ...engineArgs(args),
          skipBad: args["skip-bad"],
          onSkip: (error) => {
            if (!args.quiet) printWarning(`skipped ${error.message}`);
          },
          signal: controller.signal,
          onWarning: args.quiet ? undefined : printWarning,
          onStart: (info) => {
            if (!args.quiet) console.error(engineLine(info));
            progress = progressBar(info.total, { quiet: args.quiet, label: "detect" });
          },
          onProgress: (done) => progress?.update(done),
        });
        progress?.stop();
        if (!args.quiet) {
          const drawn = args.visualize === undefined ? "" : `, pictures in ${args.visualize}`;
          const skipped = result.skipped > 0 ? `, ${result.skipped} skipped` : "";
          console.error(`fxc: wrote ${result.detections} detections of ${result.images} images to ${args.out}${drawn} (${rate(result.images, result.seconds)}${skipped})`);
        }
      } finally {
        progress?.stop();
        process.off("SIGINT", interrupt);
        process.off("SIGTERM", interrupt);
      }
    },
  );
}
