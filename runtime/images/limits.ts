/**
 * The limits that keep image input bounded in memory and time, whatever the files say. Each has a
 * default here and an environment variable that raises (or lowers) it, read at use so that the CLI,
 * the API and worker threads all see the same value.
 */
import { wholeNumberFromEnvironment } from "../limits.js";

export { LimitSettingError } from "../limits.js";

/**
 * Pixels of any raster preprocessing holds: the decoded image, and each buffer a resize allocates
 * (its output, the rows of its horizontal pass, its filter tables at one pixel per tap). The default is
 * Pillow's `Image.MAX_IMAGE_PIXELS` (about 9459 x 9459), above which PIL warns of a decompression bomb.
 * An 8-bit RGB image this large takes 268 MB; a 16000 x 16000 PNG (249 KB on disk) would take 768 MB
 * decoded and several GB to resize.
 */
export const DEFAULT_MAX_IMAGE_PIXELS = 89_478_485;
export const MAX_IMAGE_PIXELS_VARIABLE = "FXC_MAX_IMAGE_PIXELS";

/**
 * The largest resize and crop size, in pixels per side (`--resize`, `--crop`, a preset's
 * `resizeSize` and `cropSize`, and those an index's metadata records). The zoo's largest is 600
 * (efficientnet_b7); retrieval often runs at 1024. A 2048 x 2048 crop is 50 MB of float32 per image.
 */
export const DEFAULT_MAX_PREPROCESS_SIDE = 2048;
export const MAX_PREPROCESS_SIDE_VARIABLE = "FXC_MAX_PREPROCESS_SIDE";

/**
 * An image file may hold at most this many bytes per allowed pixel: an uncompressed 16-bit RGBA
 * raster (TIFF, PNG stored without compression), the largest an encoding of those pixels needs.
 */
export const MAX_FILE_BYTES_PER_PIXEL = 8;
/** Room for what an image file carries besides its pixels (EXIF, ICC profiles, XMP, thumbnails). */
export const MAX_FILE_METADATA_BYTES = 16 * 1024 * 1024;

/** Pixels allowed per raster (`FXC_MAX_IMAGE_PIXELS`, else `DEFAULT_MAX_IMAGE_PIXELS`). */
export function maxImagePixels(): number {
  return wholeNumberFromEnvironment(MAX_IMAGE_PIXELS_VARIABLE, DEFAULT_MAX_IMAGE_PIXELS);
}

/** The largest resize or crop size (`FXC_MAX_PREPROCESS_SIDE`, else `DEFAULT_MAX_PREPROCESS_SIDE`). */
export function maxPreprocessSide(): number {
  return wholeNumberFromEnvironment(MAX_PREPROCESS_SIDE_VARIABLE, DEFAULT_MAX_PREPROCESS_SIDE);
}

/** The largest image file read: enough for any encoding of `maxImagePixels()` pixels. */
export function maxImageFileBytes(): number {
  return maxImagePixels() * MAX_FILE_BYTES_PER_PIXEL + MAX_FILE_METADATA_BYTES;
}

/**
 * Why `size` cannot be a resize or crop size, or undefined when it can: the phrase completes
 * "bad --crop 20000: ...". Sizes come from users and from index files alike, and are checked alike.
 */
export function preprocessSideProblem(size: number): string | undefined {
  if (!(Number.isSafeInteger(size) && size > 0)) return "not a positive whole number";
  const max = maxPreprocessSide();
  if (size > max) return `over the limit of ${max} pixels per side (${MAX_PREPROCESS_SIDE_VARIABLE}=N raises it)`;
  return undefined;
}

/** Checks all the limits once, so that a bad setting fails at the start rather than as every image's error. */
export function checkImageLimits(): void {
  maxImagePixels();
  maxPreprocessSide();
}

/** 89478485 as "89,478,485": limits and sizes read at a glance. */
export function groupDigits(n: number): string {
  return n.toLocaleString("en-US");
}
