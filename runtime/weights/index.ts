export { WeightsError, type DType, type TensorInfo, type TensorSource } from "./types.js";
export { detectFormat, openWeights, withPrefix, type OpenWeightsOptions } from "./open.js";
export { openSafetensors, safetensorsHeader, writeSafetensors, type Float32TensorToWrite, type SafetensorsSource } from "./safetensors.js";
export { openPth } from "./pth.js";
export { withRenamedKeys, type KeyRename } from "./rename.js";
