/**
 * Types shared by the detection kernels (runtime/detection), the detector the compiler builds
 * (compiler/detection) and its callers. Boxes are (x1, y1, x2, y2) in pixels; every array is a
 * row-major typed array (a list of n boxes is a Float32Array of length 4n).
 */

/** One image, channels first: data holds channels × height × width floats. */
export interface ImageTensor {
  readonly data: Float32Array;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
}

/** A feature map of a batch, NCHW: data holds n × c × h × w floats. */
export interface FeatureMap {
  readonly data: Float32Array;
  readonly shape: [n: number, c: number, h: number, w: number];
}

/** What a detector returns for one image (torchvision's dict of boxes, scores, labels and masks). */
export interface Detections {
  /** n × 4 (x1, y1, x2, y2), in pixels of the input image. */
  readonly boxes: Float32Array;
  /** n scores, decreasing. */
  readonly scores: Float32Array;
  /** n class indices (0 is the background, never returned). */
  readonly labels: Int32Array;
  /** Mask R-CNN only: n × height × width probabilities, pasted into the input image. */
  readonly masks?: DetectionMasks;
}

/** Mask R-CNN's masks of one image: n × height × width probabilities (the object is above 0.5), the input image's size. */
export interface DetectionMasks {
  readonly data: Float32Array;
  readonly height: number;
  readonly width: number;
}
