/**
 * Photo-like 4032x3024 JPEGs (a phone photo's size), made at bench time into a temporary folder:
 * no photo is committed. Each is a different crop and hue of one synthetic scene of smooth
 * gradients, a checkerboard and grain, so that no two files decode to the same pixels.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { loadSharp } from "../../runtime/images/decode.js";

export const PHOTO_WIDTH = 4032;
export const PHOTO_HEIGHT = 3024;
/** How far crops of the scene move from one photo to the next. */
const MARGIN = 256;

interface Scene {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

function scene(): Scene {
  const [width, height] = [PHOTO_WIDTH + MARGIN, PHOTO_HEIGHT + MARGIN];
  const data = new Uint8Array(width * height * 3);
  let seed = 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const grain = (seed >>> 27) - 16;
      const i = (y * width + x) * 3;
      data[i] = Math.max(0, Math.min(255, 128 + 100 * Math.sin(x / 97 + y / 131) + grain));
      data[i + 1] = Math.max(0, Math.min(255, (x * 255) / width + grain));
      data[i + 2] = Math.max(0, Math.min(255, (Math.floor(x / 64) + Math.floor(y / 64)) % 2 ? 200 + grain : 40 + grain));
    }
  }
  return { data, width, height };
}

async function photo(s: Scene, index: number): Promise<Buffer> {
  const sharp = await loadSharp();
  return sharp(s.data, { raw: { width: s.width, height: s.height, channels: 3 } })
    .extract({ left: (index * 37) % MARGIN, top: (index * 53) % MARGIN, width: PHOTO_WIDTH, height: PHOTO_HEIGHT })
    .modulate({ hue: (index * 23) % 360 })
    .jpeg({ quality: 90 })
    .toBuffer();
}

/** One photo-like JPEG. */
export async function photoLikeJpeg(): Promise<Uint8Array> {
  return photo(scene(), 0);
}

/** Writes `count` photo-like JPEGs into `dir` (photo-000.jpg, ...), two at a time; returns their paths. */
export async function writePhotos(dir: string, count: number): Promise<string[]> {
  const s = scene();
  const paths = Array.from({ length: count }, (_, i) => join(dir, `photo-${String(i).padStart(3, "0")}.jpg`));
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      await writeFile(paths[i]!, await photo(s, i));
    }
  };
  await Promise.all([lane(), lane()]);
  return paths;
}
