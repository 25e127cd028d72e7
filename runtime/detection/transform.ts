/**
 * torchvision.models.detection.transform.GeneralizedRCNNTransform's kernels: resize (min/max size,
 * torch's bilinear interpolate), normalize, batching padded to a multiple of size_divisible, and the
 * postprocess ratios that take boxes back to the input image's pixels.
 */

import { boxCount } from "./boxes.js";
import { DetectionInputError } from "./errors.js";
import { bilinearTaps, resamplePlane } from "./resample.js";
import type { ImageTensor } from "./types.js";

const f32 = Math.fround;

function channelsOf(image: Float32Array, height: number, width: number, what: string): number {
  const plane = height * width;
  if (!(Number.isInteger(height) && Number.isInteger(width) && height > 0 && width > 0) || image.length % plane !== 0 || image.length === 0) {
    throw new DetectionInputError(`${what}: ${image.length} values are not channels of ${height} × ${width}; pass C × H × W floats`);
  }
  return image.length / plane;
}

/**
 * _resize_image_and_masks' output size: scale = min(minSize / shorter side, maxSize / longer side) in
 * float32, then each side floor(side × scale) in double, as F.interpolate with recompute_scale_factor.
 * `number / tensor` is torch's Tensor.__rdiv__, reciprocal() * number: two float32 roundings, which
 * decide sizes such as 480 × 640 -> 800 × 1066 (a correctly rounded 800 / 480 gives 799).
 */
export function resizedSize([height, width]: readonly [number, number], minSize: number, maxSize: number): [number, number] {
  const shorter = f32(Math.min(height, width));
  const longer = f32(Math.max(height, width));
  const scale = Math.min(f32(f32(1 / shorter) * minSize), f32(f32(1 / longer) * maxSize));
  return [Math.floor(height * scale), Math.floor(width * scale)];
}

/** GeneralizedRCNNTransform's resize of one C × H × W image (bilinear, align_corners=False, scale recomputed from the sizes). */
export function resizeImage(
  image: Float32Array,
  [height, width]: readonly [number, number],
  minSize: number,
  maxSize: number,
): { data: Float32Array; height: number; width: number } {
  const channels = channelsOf(image, height, width, "resizeImage");
  if (!(minSize > 0 && maxSize > 0)) throw new DetectionInputError(`resizeImage: min size ${minSize} and max size ${maxSize} must be > 0; pass torchvision's (800, 1333) or your model's`);
  const [outHeight, outWidth] = resizedSize([height, width], minSize, maxSize);
  if (outHeight < 1 || outWidth < 1) {
    throw new DetectionInputError(`resizeImage: a ${height} × ${width} image resizes to ${outHeight} × ${outWidth}; pass an image whose sides are less unequal, or a larger maxSize`);
  }
  const rows = bilinearTaps(height, outHeight);
  const cols = bilinearTaps(width, outWidth);
  const data = new Float32Array(channels * outHeight * outWidth);
  const region = { rowStart: 0, rowEnd: outHeight, colStart: 0, colEnd: outWidth };
  for (let c = 0; c < channels; c++) resamplePlane(image, c * height * width, width, rows, cols, region, data, c * outHeight * outWidth, outWidth);
  return { data, height: outHeight, width: outWidth };
}

/** (image - mean[c]) / std[c] per channel, in float32; the channel count is mean's length. */
export function normalizeImage(image: Float32Array, mean: readonly number[], std: readonly number[]): Float32Array {
  const channels = mean.length;
  if (channels === 0 || std.length !== channels || image.length % channels !== 0) {
    throw new DetectionInputError(`normalizeImage: ${image.length} values, ${mean.length} means and ${std.length} stds; pass one mean and one std per channel of a C × H × W image`);
  }
  const plane = image.length / channels;
  const out = new Float32Array(image.length);
  for (let c = 0; c < channels; c++) {
    const m = f32(mean[c]!), s = f32(std[c]!);
    for (let i = c * plane, end = i + plane; i < end; i++) out[i] = f32(image[i]! - m) / s;
  }
  return out;
}

/** batch_images: the images, zero-padded at the bottom and right to the largest size rounded up to a multiple of sizeDivisible, N × C × H × W. */
export function batchImages(images: readonly ImageTensor[], sizeDivisible = 32): { data: Float32Array; shape: [number, number, number, number] } {
  if (images.length === 0) throw new DetectionInputError("batchImages: no images; pass at least one");
  if (!(Number.isInteger(sizeDivisible) && sizeDivisible > 0)) throw new DetectionInputError(`batchImages: size_divisible ${sizeDivisible} is not a whole number > 0; pass 32 as torchvision`);
  images.forEach((im, i) => {
    if (im.data.length !== im.channels * im.height * im.width) {
      throw new DetectionInputError(`batchImages: image ${i} holds ${im.data.length} values, not ${im.channels} × ${im.height} × ${im.width}; pass C × H × W floats`);
    }
  });
  const channels = Math.max(...images.map((im) => im.channels));
  const height = Math.ceil(Math.max(...images.map((im) => im.height)) / sizeDivisible) * sizeDivisible;
  const width = Math.ceil(Math.max(...images.map((im) => im.width)) / sizeDivisible) * sizeDivisible;
  const data = new Float32Array(images.length * channels * height * width);
  images.forEach((im, n) => {
    for (let c = 0; c < im.channels; c++) {
      for (let y = 0; y < im.height; y++) {
        const from = (c * im.height + y) * im.width;
        data.set(im.data.subarray(from, from + im.width), ((n * channels + c) * height + y) * width);
      }
    }
  });
  return { data, shape: [images.length, channels, height, width] };
}

/** resize_boxes: boxes in an image of originalSize [h, w] scaled to one of newSize, by float32 ratios new / original. */
export function resizeBoxes(boxes: Float32Array, originalSize: readonly [number, number], newSize: readonly [number, number]): Float32Array {
  boxCount(boxes, "resizeBoxes");
  const ratioHeight = f32(f32(newSize[0]) / f32(originalSize[0]));
  const ratioWidth = f32(f32(newSize[1]) / f32(originalSize[1]));
  const out = new Float32Array(boxes.length);
  for (let i = 0; i < boxes.length; i++) out[i] = boxes[i]! * (i % 2 === 0 ? ratioWidth : ratioHeight);
  return out;
}
