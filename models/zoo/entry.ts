import type { Module } from "../nn/module.js";
import type { KeyRename } from "@fxc/runtime/internal/weights/rename";

import type { Preset } from "@fxc/runtime/internal/images/preset";
import { InternalError } from "@fxc/runtime/internal/errors";

export type { Preset };

export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

export function imagenetPreset(cropSize: number, resizeSize: number, interpolation: Preset["interpolation"] = "bilinear"): Preset {
  return { cropSize, resizeSize, mean: IMAGENET_MEAN, std: IMAGENET_STD, interpolation };
}

/** A model of the zoo: its torchvision builder and what its DEFAULT weights expect. */
export interface ModelEntry {
  /** torchvision's builder name, e.g. `resnet50`. */
  readonly name: string;
  readonly family: string;
  /** Builds the model for tracing: shapes only, no weights. Options are the builder's, camelCased. */
  readonly build: (options?: Record<string, unknown>) => Module;
  /** The input size the model is traced at by default (torchvision's crop size). */
  readonly inputSize: number;
  /** The smallest input side torchvision's weights document (`meta["min_size"]`). */
  readonly minSize: number;
  /** Models that take exactly one input size (ViT's position embeddings fix it). */
  readonly fixedSize?: boolean;
  readonly preset: Preset;
  /**
   * How torchvision's loader for this model renames checkpoint keys (DenseNet's published files
   * use older names); fxc's loader applies the same rules to any weights it reads for the model.
   */
  readonly checkpointKeyRenames?: readonly KeyRename[];
}

/** What an entry says beyond its name and builder; its input size is the preset's crop size. */
export type EntryInfo = Pick<ModelEntry, "minSize" | "preset" | "fixedSize" | "checkpointKeyRenames">;

export type FamilyEntry = <O>(name: string, build: (options?: O) => Module, overrides?: Partial<EntryInfo>) => ModelEntry;

/**
 * A family's entries: `entry(name, builder, overrides?)` with the family's defaults. Builders take
 * torchvision's arguments camelCased; the zoo passes the user's options through unchecked.
 */
export function zooFamily(family: string, defaults: EntryInfo): FamilyEntry {
  return function entry<O>(name: string, build: (options?: O) => Module, overrides: Partial<EntryInfo> = {}): ModelEntry {
    const { minSize, preset, fixedSize, checkpointKeyRenames } = { ...defaults, ...overrides };
    return {
      name,
      family,
      build: (options) => build(options as O),
      inputSize: preset.cropSize,
      minSize,
      ...(fixedSize === undefined ? {} : { fixedSize }),
      preset,
      ...(checkpointKeyRenames === undefined ? {} : { checkpointKeyRenames }),
    };
  };
}

/** Every model registered so far, by name: the family files fill it as they load (models/zoo/families.ts loads them all). */
const registered = new Map<string, ModelEntry>();

/** Adds a family's models to the zoo, as torchvision's `@register_model()` does for each builder. */
export function registerModels(...entries: readonly ModelEntry[]): void {
  for (const entry of entries) {
    if (registered.has(entry.name)) throw new InternalError(`model ${entry.name} is registered twice`);
    registered.set(entry.name, entry);
  }
}

/** The models registered so far, by name. */
export function registeredModels(): ReadonlyMap<string, ModelEntry> {
  return registered;
}
