/** Images in: decoding as PIL does, torchvision's preset preprocessing, folders and batches. */
export { decodeImage, ImageError, type ImageInput, type RgbImage } from "./decode.js";
export { resizeRgb, type Interpolation } from "./resize.js";
export { preprocess, cropForPreset, resizeShorterSide, centerCrop, normalizeImage, type Preset, type PreprocessedImage, type ImageLayout } from "./preprocess.js";
export { listImages, isImagePath, IMAGE_EXTENSIONS } from "./list.js";
export { imageBatches, type ImageBatch, type ImageBatchOptions, type ImageFailure } from "./batches.js";
