/**
 * Runtime kernels: torch's semantics over tfjs, one family per file, named as the compiler's
 * (compiler/ops) and every other engine's (runtime/onnx/ops, runtime/webgpu/ops) files. Generated
 * code calls these. Every callable a family file exports is a kernel of the contract
 * (runtime/kernels.ts): the helpers they share live in ./support/, outside this barrel.
 */
export * from "./input.js";
export * from "./layout.js";
export * from "./conv.js";
export * from "./norm.js";
export * from "./activation.js";
export * from "./dropout.js";
export * from "./elementwise.js";
export * from "./pool.js";
export * from "./interpolate.js";
export * from "./linear.js";
export * from "./shape.js";
export * from "./reduction.js";
export * from "./indexing.js";
export * from "./python.js";
export * from "./attention.js";
export * from "./swin.js";
export * from "./custom.js";
