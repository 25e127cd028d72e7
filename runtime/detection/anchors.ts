/**
 * torchvision.models.detection.anchor_utils.AnchorGenerator: base anchors per level, tiled over each
 * feature map at its stride. Float32 as torch's.
 */

import { pythonRound } from "../pythonMath.js";
import { concatFloat32 } from "../weights/dtype.js";
import { DetectionInputError } from "./errors.js";

const f32 = Math.fround;

/**
 * generate_anchors: for each aspect ratio (height / width), for each size, the zero-centred box
 * (-w/2, -h/2, w/2, h/2) with w = size / sqrt(ratio), h = size × sqrt(ratio), rounded half to even
 * as torch.round. Ratio-major: A = ratios × sizes anchors, A × 4 values.
 */
export function generateAnchors(sizes: readonly number[], aspectRatios: readonly number[]): Float32Array {
  const out = new Float32Array(4 * sizes.length * aspectRatios.length);
  let a = 0;
  for (const ratio of aspectRatios) {
    const hRatio = f32(Math.sqrt(f32(ratio)));
    const wRatio = f32(1 / hRatio);
    for (const size of sizes) {
      const w = f32(wRatio * f32(size));
      const h = f32(hRatio * f32(size));
      out[a++] = pythonRound(-w / 2);
      out[a++] = pythonRound(-h / 2);
      out[a++] = pythonRound(w / 2);
      out[a++] = pythonRound(h / 2);
    }
  }
  return out;
}

/**
 * grid_anchors: per level, the cell anchors shifted to every location of a grid of [height, width]
 * cells at [strideHeight, strideWidth], locations row-major and the cell anchors innermost.
 */
export function gridAnchors(
  gridSizes: readonly (readonly [number, number])[],
  strides: readonly (readonly [number, number])[],
  cellAnchors: readonly Float32Array[],
): Float32Array[] {
  if (gridSizes.length !== strides.length || gridSizes.length !== cellAnchors.length) {
    throw new DetectionInputError(
      `gridAnchors: ${gridSizes.length} feature maps, ${strides.length} strides and ${cellAnchors.length} anchor sets; pass one size and one aspect-ratio list per feature map`,
    );
  }
  return gridSizes.map(([gridHeight, gridWidth], level) => {
    const [strideHeight, strideWidth] = strides[level]!;
    const base = cellAnchors[level]!;
    const out = new Float32Array(gridHeight * gridWidth * base.length);
    let o = 0;
    for (let y = 0; y < gridHeight; y++) {
      const shiftY = y * strideHeight;
      for (let x = 0; x < gridWidth; x++) {
        const shiftX = x * strideWidth;
        for (let b = 0; b < base.length; b += 4) {
          out[o++] = shiftX + base[b]!;
          out[o++] = shiftY + base[b + 1]!;
          out[o++] = shiftX + base[b + 2]!;
          out[o++] = shiftY + base[b + 3]!;
        }
      }
    }
    return out;
  });
}

/**
 * AnchorGenerator.forward for one image (every image of a batch gets the same anchors): the stride of
 * each level is the padded batch's size floor-divided by the level's feature size; the levels'
 * anchors concatenated, N × 4.
 */
export function anchorsForImage(
  [imageHeight, imageWidth]: readonly [number, number],
  featureSizes: readonly (readonly [number, number])[],
  sizes: readonly (readonly number[])[],
  aspectRatios: readonly (readonly number[])[],
): Float32Array {
  if (sizes.length !== featureSizes.length || aspectRatios.length !== featureSizes.length) {
    throw new DetectionInputError(
      `anchorsForImage: ${featureSizes.length} feature maps but ${sizes.length} size lists and ${aspectRatios.length} aspect-ratio lists; pass one of each per feature map`,
    );
  }
  const strides = featureSizes.map(([h, w]) => [Math.floor(imageHeight / h), Math.floor(imageWidth / w)] as const);
  const cells = sizes.map((s, level) => generateAnchors(s, aspectRatios[level]!));
  return concatFloat32(gridAnchors(featureSizes, strides, cells));
}
