/**
 * torchvision.models.detection.roi_heads.paste_masks_in_image: each box's M × M mask probabilities,
 * padded (expand_masks), its box enlarged to match (expand_boxes), resized bilinearly to the box's
 * integer size and pasted into an image-sized plane of zeros.
 */

import { boxCount } from "./boxes.js";
import { DetectionInputError } from "./errors.js";
import { bilinearTaps, resamplePlane } from "./resample.js";

const f32 = Math.fround;

/** expand_boxes in float32, then truncated to integers as `.to(torch.int64)`: x1, y1, x2, y2 of box i. */
function expandedBox(boxes: Float32Array, i: number, scale: number): [number, number, number, number] {
  const [x1, y1, x2, y2] = [boxes[4 * i]!, boxes[4 * i + 1]!, boxes[4 * i + 2]!, boxes[4 * i + 3]!];
  const halfW = f32(f32(f32(x2 - x1) * 0.5) * scale);
  const halfH = f32(f32(f32(y2 - y1) * 0.5) * scale);
  const cx = f32(f32(x2 + x1) * 0.5);
  const cy = f32(f32(y2 + y1) * 0.5);
  return [Math.trunc(f32(cx - halfW)), Math.trunc(f32(cy - halfH)), Math.trunc(f32(cx + halfW)), Math.trunc(f32(cy + halfH))];
}

/** n masks (n × maskSize × maskSize) pasted at their boxes (n × 4) into planes of [height, width]: n × height × width. */
export function pasteMasksInImage(
  masks: Float32Array,
  maskSize: number,
  boxes: Float32Array,
  [height, width]: readonly [number, number],
  padding = 1,
): Float32Array {
  const n = boxCount(boxes, "pasteMasksInImage's boxes");
  if (!Number.isInteger(maskSize) || maskSize < 1 || masks.length !== n * maskSize * maskSize) {
    throw new DetectionInputError(`pasteMasksInImage: ${masks.length} mask values are not ${n} masks of ${maskSize} × ${maskSize}; pass one square mask per box`);
  }
  if (!Number.isInteger(padding) || padding < 0) throw new DetectionInputError(`pasteMasksInImage: padding ${padding} is not a whole number >= 0`);
  const padded = maskSize + 2 * padding;
  const scale = f32(padded / maskSize);
  const plane = new Float32Array(padded * padded);
  const out = new Float32Array(n * height * width);
  for (let i = 0; i < n; i++) {
    const [bx1, by1, bx2, by2] = expandedBox(boxes, i, scale);
    const w = Math.max(bx2 - bx1 + 1, 1);
    const h = Math.max(by2 - by1 + 1, 1);
    // The mask with `padding` zeros around it (F.pad).
    for (let y = 0; y < maskSize; y++) {
      plane.set(masks.subarray((i * maskSize + y) * maskSize, (i * maskSize + y + 1) * maskSize), (y + padding) * padded + padding);
    }
    // Only the part of the resized mask that lands inside the image is computed.
    const x0 = Math.max(bx1, 0), x1 = Math.min(bx2 + 1, width);
    const y0 = Math.max(by1, 0), y1 = Math.min(by2 + 1, height);
    if (x1 <= x0 || y1 <= y0) continue;
    const region = { rowStart: y0 - by1, rowEnd: y1 - by1, colStart: x0 - bx1, colEnd: x1 - bx1 };
    resamplePlane(plane, 0, padded, bilinearTaps(padded, h), bilinearTaps(padded, w), region, out, i * height * width + y0 * width + x0, width);
  }
  return out;
}
