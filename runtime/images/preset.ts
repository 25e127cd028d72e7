/**
 * torchvision's `ImageClassification` preset of a model's DEFAULT weights: how an image becomes
 * the input those weights expect. Generated modules export their model's (`preprocessing`).
 */
export interface Preset {
  readonly resizeSize: number;
  readonly cropSize: number;
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
  readonly interpolation: "bilinear" | "bicubic" | "nearest";
}
