/** Images in: decoding as PIL does, torchvision's preset preprocessing, folders and batches. */
export { decodeImage, ImageError, type ImageInput, type RgbImage, type ImageFailure } from "./decode.js";
export { resizeRgb, type Interpolation } from "./resize.js";
export { preprocess, checkPresetSizes, cropForPreset, resizeShorterSide, centerCrop, normalizeImage, type Preset, type PreprocessedImage, type ImageLayout } from "./preprocess.js";
export { listImages, isImagePath, IMAGE_EXTENSIONS, type ListImagesOptions } from "./list.js";
export { imageBatches, type ImageBatch, type ImageBatchOptions } from "./batches.js";
export {
  DEFAULT_MAX_IMAGE_PIXELS,
  DEFAULT_MAX_PREPROCESS_SIDE,
  MAX_IMAGE_PIXELS_VARIABLE,
  MAX_PREPROCESS_SIDE_VARIABLE,
  MAX_FILE_BYTES_PER_PIXEL,
  MAX_FILE_METADATA_BYTES,
  LimitSettingError,
  maxImagePixels,
  maxPreprocessSide,
  maxImageFileBytes,
} from "./limits.js";
