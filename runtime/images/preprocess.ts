import type { Preset } from "../../models/zoo/entry.js";
import { decodeImage, ImageError, type ImageInput, type RgbImage } from "./decode.js";
import { resizeRgb } from "./resize.js";
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
  const rgb = isRgbImage(image) ? image : await decodeImage(image);
  try {
    return normalizeImage(await cropForPreset(rgb, preset), preset, options.layout ?? "nhwc");
  } catch (error) {
    // The resize names the image by its size; a file is better named by its path.
    if (error instanceof ImageError && typeof image === "string") throw new ImageError(image, error.problem, error.fix);
    throw error;
  }
}

/** The 8-bit image the network sees, before normalization: resized and center-cropped per the preset. */
export async function cropForPreset(image: RgbImage, preset: Pick<Preset, "resizeSize" | "cropSize" | "interpolation">): Promise<RgbImage> {
  return centerCrop(await resizeShorterSide(image, preset.resizeSize, preset.interpolation), preset.cropSize);
}

/** torchvision's `F.resize(img, [size])`: the shorter side becomes `size`, the longer one keeps the aspect ratio, truncated. */
export async function resizeShorterSide(image: RgbImage, size: number, interpolation: Preset["interpolation"]): Promise<RgbImage> {
  const { width: w, height: h } = image;
  const [short, long] = w <= h ? [w, h] : [h, w];
  const newLong = Math.trunc((size * long) / short);
  const [newW, newH] = w <= h ? [size, newLong] : [newLong, size];
  return resizeRgb(image, newW, newH, interpolation);
}

/**
 * torchvision's `F.center_crop`: pads with zeros where the crop is larger than the image, then cuts
 * at `int(round((side - crop) / 2.0))` (Python rounds halves to even).
 */
export function centerCrop(image: RgbImage, size: number | readonly [number, number]): RgbImage {
  const [cropH, cropW] = typeof size === "number" ? [size, size] : size;
  const padLeft = cropW > image.width ? Math.floor((cropW - image.width) / 2) : 0;
  const padTop = cropH > image.height ? Math.floor((cropH - image.height) / 2) : 0;
  const paddedW = cropW > image.width ? cropW : image.width;
  const paddedH = cropH > image.height ? cropH : image.height;
  const top = pythonRound((paddedH - cropH) / 2) - padTop;
  const left = pythonRound((paddedW - cropW) / 2) - padLeft;
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
