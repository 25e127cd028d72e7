import { WeightsError, type TensorInfo, type TensorSource } from "./types.js";

export interface MemoryTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Tensors already in memory, behind the same interface as a checkpoint file. */
export function memorySource(tensors: ReadonlyMap<string, MemoryTensor> | Readonly<Record<string, MemoryTensor>>, name = "<memory>"): TensorSource {
  const map = tensors instanceof Map ? (tensors as ReadonlyMap<string, MemoryTensor>) : new Map(Object.entries(tensors));
  return {
    path: name,
    format: "safetensors",
    keys: () => [...map.keys()],
    info(key): TensorInfo | undefined {
      const t = map.get(key);
      return t === undefined ? undefined : { key, dtype: "F32", shape: t.shape };
    },
    async readFloat32(key) {
      const t = map.get(key);
      if (t === undefined) throw new WeightsError(name, `has no tensor named '${key}'`, "check the name");
      return t.data;
    },
    async close() {},
  };
}
