/**
 * Detection's data-dependent kernels over typed arrays, with torchvision 0.14.1's semantics: boxes
 * are (x1, y1, x2, y2), a list of n boxes a Float32Array of 4n values, arrays row-major. No tfjs here:
 * loadDetector (runtime/detector.ts) runs them between its compiled dense stages.
 */
export type { DetectionMasks, Detections, FeatureMap, ImageTensor } from "./types.js";
export { DetectionInputError } from "./errors.js";
export { boxArea, boxCount, boxIou, clipBoxesToImage, removeSmallBoxes, selectBoxes } from "./boxes.js";
export { nms, batchedNms, batchedNmsCoordinateTrick, batchedNmsVanilla, COORDINATE_TRICK_MAX_VALUES } from "./nms.js";
export { topk, decreasingOrder } from "./topk.js";
export { BoxCoder, DEFAULT_BBOX_XFORM_CLIP, type BoxCoderWeights } from "./boxCoder.js";
export { generateAnchors, gridAnchors, anchorsForImage } from "./anchors.js";
export { roiAlign, multiScaleRoIAlign, inferScale, mapLevels, type Nchw } from "./roiAlign.js";
export { pasteMasksInImage } from "./masks.js";
export { resizeImage, resizedSize, normalizeImage, batchImages, resizeBoxes } from "./transform.js";
