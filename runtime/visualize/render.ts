import { loadSharp, type RgbImage } from "../images/decode.js";
import { viridis } from "./colormap.js";
import { drawText, fitText, GLYPH_HEIGHT, textWidth } from "./font.js";
import { linearSamples } from "../ops/support/sampling.js";

/** One image's feature map, channels last: `data[(y * width + x) * channels + c]`. */
export interface FeatureMap {
  readonly data: Float32Array;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
}

export interface ChannelGridOptions {
  /** First title line, e.g. `layer1 (layer1.1.relu_1)`. */
  readonly title: string;
  /** Channels shown, the most active first; 16 by default. */
  readonly top?: number;
}

const BACKGROUND = 24;
const WHITE: readonly [number, number, number] = [255, 255, 255];
const GREY: readonly [number, number, number] = [170, 170, 170];
const GAP = 6;
const LABEL_SCALE = 2;
const LABEL_HEIGHT = GLYPH_HEIGHT * LABEL_SCALE + 6;

/** Mean activation of each channel over the map's positions. */
export function channelMeans(map: FeatureMap): Float64Array {
  const means = new Float64Array(map.channels);
  const positions = map.height * map.width;
  for (let p = 0; p < positions; p++) for (let c = 0; c < map.channels; c++) means[c] += map.data[p * map.channels + c]!;
  for (let c = 0; c < map.channels; c++) means[c] /= positions;
  return means;
}

/** Channel indices by mean activation, highest first (ties by index). */
export function topChannels(map: FeatureMap, top: number): number[] {
  const means = channelMeans(map);
  return [...means.keys()].sort((a, b) => means[b]! - means[a]! || a - b).slice(0, Math.max(1, Math.min(top, map.channels)));
}

/**
 * The `top` channels by mean activation as a grid of tiles in viridis, each scaled to its own
 * range (nearest-neighbour enlarged, so each feature-map position stays a visible square) and
 * labelled `ch N`, under a two-line title.
 */
export function channelGrid(map: FeatureMap, options: ChannelGridOptions): RgbImage {
  const channels = topChannels(map, options.top ?? 16);
  const side = Math.max(map.height, map.width);
  const scale = side >= 96 ? Math.min(1, 192 / side) : Math.ceil(96 / side);
  const tileH = Math.max(1, Math.round(map.height * scale));
  const tileW = Math.max(1, Math.round(map.width * scale));
  const subtitle = `top ${channels.length} of ${map.channels} channels by mean activation`;
  const cellW = Math.max(tileW, textWidth("ch 0000", LABEL_SCALE));
  const titleWidth = Math.min(textWidth(subtitle, LABEL_SCALE) + 2 * GAP, 720);
  // A square-ish grid, widened to fill the title's width when that holds more columns.
  const cols = Math.min(channels.length, Math.max(Math.ceil(Math.sqrt(channels.length)), Math.floor((titleWidth - GAP) / (cellW + GAP))));
  const rows = Math.ceil(channels.length / cols);
  const titleHeight = 2 * (GLYPH_HEIGHT * LABEL_SCALE + 6) + GAP;
  const width = Math.max(cols * (cellW + GAP) + GAP, titleWidth);
  const height = titleHeight + rows * (LABEL_HEIGHT + tileH + GAP) + GAP;
  const rgb = new Uint8Array(width * height * 3).fill(BACKGROUND);
  drawText(rgb, width, fitText(options.title, width - 2 * GAP, LABEL_SCALE), GAP, GAP, WHITE, LABEL_SCALE);
  drawText(rgb, width, fitText(subtitle, width - 2 * GAP, LABEL_SCALE), GAP, GAP + GLYPH_HEIGHT * LABEL_SCALE + 6, GREY, LABEL_SCALE);
  channels.forEach((channel, i) => {
    const x0 = GAP + (i % cols) * (cellW + GAP);
    const y0 = titleHeight + Math.floor(i / cols) * (LABEL_HEIGHT + tileH + GAP);
    drawText(rgb, width, `ch ${channel}`, x0, y0 + 2, WHITE, LABEL_SCALE);
    const [lo, hi] = channelRange(map, channel);
    for (let ty = 0; ty < tileH; ty++) {
      const sy = Math.min(map.height - 1, Math.floor((ty * map.height) / tileH));
      for (let tx = 0; tx < tileW; tx++) {
        const sx = Math.min(map.width - 1, Math.floor((tx * map.width) / tileW));
        const v = map.data[(sy * map.width + sx) * map.channels + channel]!;
        rgb.set(viridis(hi > lo ? (v - lo) / (hi - lo) : 0), ((y0 + LABEL_HEIGHT + ty) * width + x0 + tx) * 3);
      }
    }
  });
  return { data: rgb, width, height };
}

function channelRange(map: FeatureMap, channel: number): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let p = channel; p < map.data.length; p += map.channels) {
    const v = map.data[p]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/**
 * The mean activation over channels, upsampled bilinearly (half-pixel centres, as torch's
 * `interpolate(..., align_corners=False)`) to the image's size, coloured with viridis over its
 * range, and blended over the image with weight `alpha`.
 */
export function activationHeatmap(map: FeatureMap, image: RgbImage, alpha = 0.5): RgbImage {
  const mean = new Float32Array(map.height * map.width);
  for (let p = 0; p < mean.length; p++) {
    let s = 0;
    for (let c = 0; c < map.channels; c++) s += map.data[p * map.channels + c]!;
    mean[p] = s / map.channels;
  }
  const up = upsampleBilinear(mean, map.height, map.width, image.height, image.width);
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of up) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const out = new Uint8Array(image.data.length);
  for (let p = 0; p < up.length; p++) {
    const colour = viridis(hi > lo ? (up[p]! - lo) / (hi - lo) : 0);
    for (let c = 0; c < 3; c++) out[p * 3 + c] = Math.round((1 - alpha) * image.data[p * 3 + c]! + alpha * colour[c]!);
  }
  return { data: out, width: image.width, height: image.height };
}

function upsampleBilinear(src: Float32Array, h: number, w: number, outH: number, outW: number): Float32Array {
  const out = new Float32Array(outH * outW);
  const rows = linearSamples(h, outH, false);
  const cols = linearSamples(w, outW, false);
  for (let y = 0; y < outH; y++) {
    const [y0, y1, fy] = rows[y]!;
    for (let x = 0; x < outW; x++) {
      const [x0, x1, fx] = cols[x]!;
      const top = src[y0 * w + x0]! * (1 - fx) + src[y0 * w + x1]! * fx;
      const bottom = src[y1 * w + x0]! * (1 - fx) + src[y1 * w + x1]! * fx;
      out[y * outW + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

/** PNG bytes of an RGB image. */
export async function encodePng(image: RgbImage): Promise<Uint8Array> {
  const sharp = await loadSharp();
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .png({ compressionLevel: 9 })
    .toBuffer();
}

/** PNG bytes of a one-channel 8-bit picture (`width * height` bytes, rows top to bottom). */
export async function encodeGreyPng(grey: Uint8Array, width: number, height: number): Promise<Uint8Array> {
  const sharp = await loadSharp();
  return sharp(grey, { raw: { width, height, channels: 1 } })
    .png({ compressionLevel: 9 })
    .toBuffer();
}
