import { join } from "node:path";
import type { Preset } from "../../models/zoo/entry.js";
import { engineChoice, tf, type EngineChoice, type WeightsInput } from "@fxc/runtime";
import { decodeImage } from "@fxc/runtime/internal/images/decode";
import { cropForPreset, normalizeImage } from "@fxc/runtime/internal/images/preprocess";
import { assertWritable, writeFileAtomic } from "@fxc/runtime/internal/io/atomic";
import { assertNotAnInput } from "@fxc/runtime/internal/io/destination";
import { activationHeatmap, channelGrid, encodePng } from "@fxc/runtime/internal/visualize/render";
import type { ModelInput } from "../api.js";
import { toQueryMap, type ReturnNodes } from "../passes/returnNodes.js";
import { OptionsError, type Mode } from "../pipeline.js";
import { interpretExtractor, resolvePreprocessing, type ExtractorLoader } from "./loader.js";

export interface VisualizeOptions extends EngineChoice {
  readonly model: ModelInput;
  readonly returnNodes: ReturnNodes;
  readonly weights: WeightsInput;
  /** The image to look at. */
  readonly image: string;
  /** Folder for the PNGs. */
  readonly out: string;
  /** Channels shown per node; 16 by default. */
  readonly top?: number;
  /** Overrides of the model's preset; every field for a model built in code. */
  readonly preprocessing?: Partial<Preset>;
  readonly mode?: Mode;
  readonly prefix?: string;
  readonly onWarning?: (message: string) => void;
  readonly loader?: ExtractorLoader;
}

export interface VisualizedNode {
  readonly key: string;
  readonly node: string;
  /** [H, W, C] of the feature map. */
  readonly shape: readonly number[];
  /** The grid of the most active channels. */
  readonly channels: string;
  /** The mean activation over the input. */
  readonly heatmap: string;
}

export interface VisualizeResult {
  readonly nodes: readonly VisualizedNode[];
  /** Returned outputs that are not feature maps (e.g. logits), with their shapes. */
  readonly skipped: readonly { readonly key: string; readonly shape: readonly number[] }[];
}

/**
 * Pictures of what each returned node sees in one image: `KEY-channels.png`, a grid of its `top`
 * channels by mean activation in viridis, labelled with the node and channel indices; and
 * `KEY-heatmap.png`, its mean activation upsampled and blended over the input as the network saw
 * it (resized and center-cropped by the preset).
 */
export async function visualize(options: VisualizeOptions): Promise<VisualizeResult> {
  const preprocessing = resolvePreprocessing(options.model, options.preprocessing);
  // Before any work: the folder must be writable and no picture may replace the image or the checkpoint.
  await assertWritable(options.out, "folder");
  const pictures = toQueryMap(options.returnNodes).flatMap(([, key]) => Object.values(pictureFiles(options.out, key)));
  await assertNotAnInput({ files: pictures }, { given: [options.image, ...(typeof options.weights === "string" ? [options.weights] : [])] });
  const crop = await cropForPreset(await decodeImage(options.image), preprocessing, options.image);
  const input = normalizeImage(crop, preprocessing, "nhwc");
  const loaded = await (options.loader ?? interpretExtractor)({
    model: options.model,
    returnNodes: options.returnNodes,
    size: preprocessing.cropSize,
    layout: "nhwc",
    mode: options.mode ?? "eval",
    weights: options.weights,
    ...engineChoice(options),
    prefix: options.prefix,
    onWarning: options.onWarning,
  });
  const maps: { key: string; node: string; shape: number[]; data: Float32Array }[] = [];
  const skipped: { key: string; shape: number[] }[] = [];
  try {
    const x = tf.tensor4d(input.data, [1, input.height, input.width, 3]);
    let outputs;
    try {
      outputs = await loaded.extractor.run(x);
    } finally {
      x.dispose();
    }
    try {
      for (const output of loaded.outputs) {
        const t = outputs[output.key]!;
        // In NHWC every 4-D output is [N, H, W, C].
        if (t.rank === 4) maps.push({ key: output.key, node: output.node, shape: t.shape.slice(1), data: (await t.data()) as Float32Array });
        else skipped.push({ key: output.key, shape: [...t.shape] });
      }
    } finally {
      tf.dispose(Object.values(outputs));
    }
  } finally {
    await loaded.extractor.dispose();
  }
  if (maps.length === 0) {
    const list = skipped.map((s) => `${s.key} [${s.shape.join(", ")}]`).join(", ");
    throw new OptionsError(`no returned node is a feature map (${list}); return convolutional nodes, such as layer1 of a ResNet`);
  }
  const nodes: VisualizedNode[] = [];
  for (const m of maps) {
    const [height, width, channels] = m.shape as [number, number, number];
    const map = { data: m.data, height, width, channels };
    const title = m.key === m.node ? m.key : `${m.key} = ${m.node}`;
    const files = pictureFiles(options.out, m.key);
    await writeFileAtomic(files.channels, await encodePng(channelGrid(map, { title, top: options.top })));
    await writeFileAtomic(files.heatmap, await encodePng(activationHeatmap(map, crop)));
    nodes.push({ key: m.key, node: m.node, shape: m.shape, ...files });
  }
  return { nodes, skipped };
}

/** The two pictures drawn for `key` in `out`. */
function pictureFiles(out: string, key: string): { readonly channels: string; readonly heatmap: string } {
  const name = key.replace(/[^A-Za-z0-9._-]/g, "_");
  return { channels: join(out, `${name}-channels.png`), heatmap: join(out, `${name}-heatmap.png`) };
}
