/**
 * torchvision.models.detection._utils.BoxCoder: boxes to and from the (dx, dy, dw, dh) regression
 * codes the RPN and box heads predict. Float32 as torch's: each step rounded with Math.fround.
 */

import { boxCount } from "./boxes.js";
import { DetectionInputError } from "./errors.js";

const f32 = Math.fround;

export type BoxCoderWeights = readonly [wx: number, wy: number, ww: number, wh: number];

/** torchvision's default clip of dw and dh before exp: log(1000 / 16). */
export const DEFAULT_BBOX_XFORM_CLIP = Math.log(1000 / 16);

export class BoxCoder {
  constructor(
    readonly weights: BoxCoderWeights,
    readonly bboxXformClip: number = DEFAULT_BBOX_XFORM_CLIP,
  ) {}

  /**
   * decode_single: `relCodes` holds perBox groups of 4 codes for each of the boxes (n × perBox × 4,
   * as the box head's per-class regression); returns the decoded boxes, n × perBox × 4.
   */
  decode(relCodes: Float32Array, boxes: Float32Array, perBox = 1): Float32Array {
    const n = boxCount(boxes, "BoxCoder.decode's reference boxes");
    if (!Number.isInteger(perBox) || perBox < 1 || relCodes.length !== n * perBox * 4) {
      throw new DetectionInputError(`BoxCoder.decode: ${relCodes.length} codes do not hold ${perBox} groups of 4 for each of ${n} boxes; pass n × perBox × 4 codes`);
    }
    const [wx, wy, ww, wh] = this.weights.map(f32) as unknown as BoxCoderWeights;
    const clip = f32(this.bboxXformClip);
    const out = new Float32Array(relCodes.length);
    for (let i = 0; i < n; i++) {
      const width = f32(boxes[4 * i + 2]! - boxes[4 * i]!);
      const height = f32(boxes[4 * i + 3]! - boxes[4 * i + 1]!);
      const ctrX = f32(boxes[4 * i]! + f32(0.5 * width));
      const ctrY = f32(boxes[4 * i + 1]! + f32(0.5 * height));
      for (let g = 0; g < perBox; g++) {
        const c = 4 * (i * perBox + g);
        const dx = f32(relCodes[c]! / wx);
        const dy = f32(relCodes[c + 1]! / wy);
        // torch.clamp(max=clip) keeps NaN; Math.min would too.
        const dw = Math.min(f32(relCodes[c + 2]! / ww), clip);
        const dh = Math.min(f32(relCodes[c + 3]! / wh), clip);
        const predCtrX = f32(f32(dx * width) + ctrX);
        const predCtrY = f32(f32(dy * height) + ctrY);
        const halfW = f32(0.5 * f32(f32(Math.exp(dw)) * width));
        const halfH = f32(0.5 * f32(f32(Math.exp(dh)) * height));
        out[c] = predCtrX - halfW;
        out[c + 1] = predCtrY - halfH;
        out[c + 2] = predCtrX + halfW;
        out[c + 3] = predCtrY + halfH;
      }
    }
    return out;
  }

  /** encode_boxes: the codes that take each proposal to its reference box (both n × 4). */
  encode(referenceBoxes: Float32Array, proposals: Float32Array): Float32Array {
    const n = boxCount(referenceBoxes, "BoxCoder.encode's reference boxes");
    if (boxCount(proposals, "BoxCoder.encode's proposals") !== n) {
      throw new DetectionInputError(`BoxCoder.encode: ${n} reference boxes but ${proposals.length / 4} proposals; pass one proposal per reference box`);
    }
    const [wx, wy, ww, wh] = this.weights.map(f32) as unknown as BoxCoderWeights;
    const out = new Float32Array(4 * n);
    for (let i = 0; i < n; i++) {
      const b = 4 * i;
      const exW = f32(proposals[b + 2]! - proposals[b]!);
      const exH = f32(proposals[b + 3]! - proposals[b + 1]!);
      const exCtrX = f32(proposals[b]! + f32(0.5 * exW));
      const exCtrY = f32(proposals[b + 1]! + f32(0.5 * exH));
      const gtW = f32(referenceBoxes[b + 2]! - referenceBoxes[b]!);
      const gtH = f32(referenceBoxes[b + 3]! - referenceBoxes[b + 1]!);
      const gtCtrX = f32(referenceBoxes[b]! + f32(0.5 * gtW));
      const gtCtrY = f32(referenceBoxes[b + 1]! + f32(0.5 * gtH));
      out[b] = f32(wx * f32(gtCtrX - exCtrX)) / exW;
      out[b + 1] = f32(wy * f32(gtCtrY - exCtrY)) / exH;
      out[b + 2] = ww * f32(Math.log(f32(gtW / exW)));
      out[b + 3] = wh * f32(Math.log(f32(gtH / exH)));
    }
    return out;
  }
}
