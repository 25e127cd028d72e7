import type { Module } from "../nn/module.js";
import type { ModelEntry } from "./entry.js";
import { didYouMean } from "../suggest.js";
import { registeredModels } from "./entry.js";
import { FxcError } from "@fxc/runtime/internal/errors";
// Loading the families registers their models.
import "./families.js";

const byName = registeredModels();

/** The zoo's model names, sorted, as torchvision's `list_models()`. */
export function listModels(): string[] {
  return [...byName.keys()].sort();
}

export function getModelEntry(name: string): ModelEntry {
  const entry = byName.get(name);
  if (entry === undefined) {
    throw new UnknownNameError(`unknown model '${name}'${didYouMean(name, listModels())} (fxc models lists them all)`);
  }
  return entry;
}

/** Builds a zoo model for tracing, as torchvision's `get_model(name, **options)`. */
export function getModel(name: string, options: Record<string, unknown> = {}): Module {
  return getModelEntry(name).build(options);
}

export class UnknownNameError extends FxcError {
  override readonly name = "UnknownNameError";
}

