// Preloaded into a child process (node --import): Dawn's adapters leave shader-f16 out of the
// devices they give, as a GPU without the feature would, whatever fxc asks for.
import { createRequire } from "node:module";

const { globals } = createRequire(import.meta.url)("webgpu");
const { requestDevice } = globals.GPUAdapter.prototype;
globals.GPUAdapter.prototype.requestDevice = function (descriptor = {}) {
  return requestDevice.call(this, { ...descriptor, requiredFeatures: (descriptor.requiredFeatures ?? []).filter((f) => f !== "shader-f16") });
};
