import type { Preset } from "./preset.js";
import { decodeImage, ImageError, type ImageInput, type RgbImage } from "./decode.js";
import { preprocessSideProblem } from "./limits.js";
import { resizeRgb, type Window } from "./resize.js";
import { pythonRound } from "../pythonMath.js";

export type { Preset };

/** Layout of a preprocessed image: [H, W, 3] (nhwc) or [3, H, W] (nchw), as the extractor's input. */
export type ImageLayout = "nhwc" | "nchw";

export interface PreprocessedImage {
  /** Normalized float32 values in `layout` order. */
  readonly data: Float32Array;
  readonly height: number;
  readonly width: number;
  readonly layout: ImageLayout;
}

/**
 * torchvision's `ImageClassification` preset: resize the shorter side to `resizeSize`, center-crop
 * to `cropSize`, scale to [0, 1], normalize with `mean` and `std`. Decoding is sharp's, resizing
 * Pillow's (resize.ts); on PNG and JPEG input the result equals torchvision's on a PIL image
 * (`Image.open(f).convert("RGB")`, EXIF orientation applied) bit for bit up to float32 rounding.
 */
export async function preprocess(image: ImageInput | RgbImage, preset: Preset, options: { layout?: ImageLayout } = {}): Promise<PreprocessedImage> {
  checkPresetSizes(preset); // before decoding: a bad preset fails for every image
  const source = isRgbImage(image) ? "<image>" : typeof image === "string" ? image : "<image bytes>";
  const rgb = isRgbImage(image) ? image : await decodeImage(image);
  return normalizeImage(await cropForPreset(rgb, preset, source), preset, options.layout ?? "nhwc");
}

/**
 * Refuses a preset whose resize or crop size is over the limit (`FXC_MAX_PREPROCESS_SIDE`) before
 * any image is read: a `cropSize` of 30000 would ask for 10 GB per image.
 */
export function checkPresetSizes(preset: Pick<Preset, "resizeSize" | "cropSize">): void {
  const problem = presetSizeProblem(preset);
  if (problem !== undefined) throw new RangeError(problem);
}

/** What is wrong with a preset's resize or crop size ("preprocessing cropSize 30000 is over the limit ..."), or undefined. */
export function presetSizeProblem(preset: Pick<Preset, "resizeSize" | "cropSize">): string | undefined {
  for (const key of ["resizeSize", "cropSize"] as const) {
    const problem = preprocessSideProblem(preset[key]);
    if (problem !== undefined) return `preprocessing ${key} ${preset[key]} is ${problem}`;
  }
  return undefined;
}

/**
 * The 8-bit image the network sees, before normalization: resized and center-cropped per the preset.
 * `source` names the image in errors.
 */
export async function cropForPreset(image: RgbImage, preset: Pick<Preset, "resizeSize" | "cropSize" | "interpolation">, source = "<image>"): Promise<RgbImage> {
  checkPresetSizes(preset);
  const [width, height] = shorterSideSize(image, preset.resizeSize);
  // Only the crop is computed: the horizontal pass skips the columns the crop cuts away (a quarter of a 4:3 photo's).
  const keep = centerCropWindow(width, height, preset.cropSize);
  return centerCrop(await resizeShorterSide(image, preset.resizeSize, preset.interpolation, source, keep), preset.cropSize);
}

/** The size `resizeShorterSide` gives: the shorter side `size`, the longer one keeping the aspect ratio, truncated. */
function shorterSideSize(image: { readonly width: number; readonly height: number }, size: number): [width: number, height: number] {
  const { width: w, height: h } = image;
  const [short, long] = w <= h ? [w, h] : [h, w];
  const newLong = Math.trunc((size * long) / short);
  return w <= h ? [size, newLong] : [newLong, size];
}

/**
 * torchvision's `F.resize(img, [size])`: the shorter side becomes `size`, the longer one keeps the aspect ratio, truncated.
 * The resize bounds its buffers as decoded images are bounded (`FXC_MAX_IMAGE_PIXELS`): a 4500x1 strip resized to
 * 232 would be 1044000x232, 242 million pixels, and is refused as a bad image (an `ImageError` naming `source`)
 * before any of it is allocated.
 */
export async function resizeShorterSide(image: RgbImage, size: number, interpolation: Preset["interpolation"], source = "<image>", keep?: Window): Promise<RgbImage> {
  const [newW, newH] = shorterSideSize(image, size);
  try {
    return await resizeRgb(image, newW, newH, interpolation, { keep });
  } catch (error) {
    // The resize names the image by its size; `source` (a path, when there is one) names it better.
    if (error instanceof ImageError && source !== "<image>") throw new ImageError(source, error.problem, error.fix);
    throw error;
  }
}

/**
 * torchvision's `F.center_crop`: pads with zeros where the crop is larger than the image, then cuts
 * at `int(round((side - crop) / 2.0))` (Python rounds halves to even).
 */
export function centerCrop(image: RgbImage, size: number | readonly [number, number]): RgbImage {
  const { top, left, width: cropW, height: cropH } = centerCropWindow(image.width, image.height, size);
  if (top === 0 && left === 0 && cropW === image.width && cropH === image.height) return image;
  const out = new Uint8Array(cropW * cropH * 3);
  for (let y = 0; y < cropH; y++) {
    const sy = y + top;
    if (sy < 0 || sy >= image.height) continue;
    const x0 = Math.max(0, -left);
    const x1 = Math.min(cropW, image.width - left);
    if (x1 > x0) out.set(image.data.subarray((sy * image.width + x0 + left) * 3, (sy * image.width + x1 + left) * 3), (y * cropW + x0) * 3);
  }
  return { data: out, width: cropW, height: cropH };
}

/** Where `centerCrop` cuts a width x height image: its top left corner in the image (negative where it pads) and its size. */
function centerCropWindow(width: number, height: number, size: number | readonly [number, number]): Window {
  const [cropH, cropW] = typeof size === "number" ? [size, size] : size;
  const padLeft = cropW > width ? Math.floor((cropW - width) / 2) : 0;
  const padTop = cropH > height ? Math.floor((cropH - height) / 2) : 0;
  const paddedW = cropW > width ? cropW : width;
  const paddedH = cropH > height ? cropH : height;
  return { top: pythonRound((paddedH - cropH) / 2) - padTop, left: pythonRound((paddedW - cropW) / 2) - padLeft, width: cropW, height: cropH };
}

/** `convert_image_dtype` then `normalize`, in float32 steps as torch computes them. */
export function normalizeImage(image: RgbImage, preset: Pick<Preset, "mean" | "std">, layout: ImageLayout = "nhwc"): PreprocessedImage {
  const { width, height, data } = image;
  const n = width * height;
  const out = new Float32Array(n * 3);
  for (let c = 0; c < 3; c++) {
    const mean = Math.fround(preset.mean[c]!);
    const std = Math.fround(preset.std[c]!);
    for (let i = 0; i < n; i++) {
      const v = Math.fround(Math.fround(Math.fround(data[i * 3 + c]! / 255) - mean) / std);
      out[layout === "nhwc" ? i * 3 + c : c * n + i] = v;
    }
  }
  return { data: out, height, width, layout };
}

function isRgbImage(x: ImageInput | RgbImage): x is RgbImage {
  return typeof x === "object" && !(x instanceof Uint8Array) && "data" in x && "width" in x;
}
