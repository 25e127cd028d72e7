import { readFile } from "node:fs/promises";
import type { SharpOptions } from "sharp";
import { errorCode, oneLine } from "../weights/types.js";

/** An 8-bit RGB image, rows top to bottom, pixels interleaved R, G, B. */
export interface RgbImage {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** What `decodeImage` reads: a file path, or the bytes of an encoded image. */
export type ImageInput = string | Uint8Array;

/**
 * An image could not be read. The message is one line: the file, the problem, and what to do
 * about it, so that a CLI can print it as is.
 */
export class ImageError extends Error {
  override readonly name = "ImageError";
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly fix: string,
  ) {
    super(oneLine(`${file}: ${problem}; ${fix}`));
  }
}

/** The fix offered for a file that is there but cannot be decoded. */
export const BAD_IMAGE_FIX = "re-save or remove it, or skip unreadable images (--skip-bad)";

/** The sharp function, with its namespace (`interpolators`, ...). */
export type SharpFactory = typeof import("sharp").default;
let sharpFactory: Promise<SharpFactory> | undefined;

/** sharp is a native addon: loaded on first use, so that commands without images never need it. */
export function loadSharp(): Promise<SharpFactory> {
  sharpFactory ??= import("sharp").then(
    (m) => m.default,
    (error: unknown) => {
      sharpFactory = undefined;
      throw new Error(oneLine(`sharp could not be loaded (${error instanceof Error ? error.message : String(error)}); reinstall it with npm install sharp`));
    },
  );
  return sharpFactory;
}

/**
 * Decodes an image (JPEG, PNG, WebP, GIF's first frame, TIFF) to 8-bit RGB as PIL's
 * `Image.open(f).convert("RGB")` does, after applying its EXIF orientation:
 * grey is replicated, palettes are expanded, alpha is dropped (not composited over a background),
 * CMYK uses PIL's plain formula rather than a colour profile, and embedded ICC profiles are ignored
 * as PIL ignores them. Two differences remain: libvips gives a transparent GIF pixel black where PIL
 * gives its palette colour, and 16-bit images are scaled to 8 bits where PIL truncates or clips.
 */
export async function decodeImage(input: ImageInput, name = typeof input === "string" ? input : "<image bytes>"): Promise<RgbImage> {
  const bytes = typeof input === "string" ? await readImageFile(input) : input;
  const sharp = await loadSharp();
  const options: SharpOptions = { failOn: "error", ignoreIcc: true, autoOrient: true, page: 0, pages: 1 };
  try {
    const meta = await sharp(bytes, options).metadata();
    const cmyk = meta.space === "cmyk";
    // sharp turns CMYK into sRGB through a colour profile; keep the ink values and convert as PIL does.
    const pipeline = cmyk ? sharp(bytes, options).pipelineColourspace("cmyk").toColourspace("cmyk") : sharp(bytes, options).toColourspace("srgb");
    const { data, info } = await pipeline.raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true });
    return toRgb(data, info.width, info.height, info.channels, cmyk);
  } catch (error) {
    if (error instanceof ImageError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new ImageError(name, `cannot be decoded as an image (${reason.trim()})`, BAD_IMAGE_FIX);
  }
}

async function readImageFile(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = errorCode(error);
    if (code === "ENOENT") throw new ImageError(path, "no such file", "check the path");
    if (code === "EISDIR") throw new ImageError(path, "is a folder, not an image", "pass the folder itself as an input to read the images in it");
    throw new ImageError(path, `cannot be read (${error instanceof Error ? error.message : String(error)})`, "check the path and its permissions");
  }
}

/** Interleaved 8-bit pixels with 1 to 5 channels to RGB; extra channels (alpha) are dropped. */
function toRgb(data: Uint8Array, width: number, height: number, channels: number, cmyk: boolean): RgbImage {
  const n = width * height;
  if (channels === 3 && !cmyk) return { data, width, height };
  const out = new Uint8Array(n * 3);
  if (cmyk) {
    // PIL's cmyk2rgb: each channel is (255 - ink) * (255 - k) / 255 with its MULDIV255 rounding.
    for (let i = 0; i < n; i++) {
      const p = i * channels;
      const nk = 255 - data[p + 3]!;
      for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.max(0, nk - muldiv255(data[p + c]!, nk));
    }
  } else if (channels >= 3) {
    for (let i = 0; i < n; i++) {
      const p = i * channels;
      out[i * 3] = data[p]!;
      out[i * 3 + 1] = data[p + 1]!;
      out[i * 3 + 2] = data[p + 2]!;
    }
  } else {
    for (let i = 0; i < n; i++) out.fill(data[i * channels]!, i * 3, i * 3 + 3);
  }
  return { data: out, width, height };
}

function muldiv255(a: number, b: number): number {
  const t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}
