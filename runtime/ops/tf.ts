/** The one tfjs-core instance every kernel uses, so backends registered by the user apply. */
export * as tf from "@tensorflow/tfjs-core";
export type { Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D, Rank } from "@tensorflow/tfjs-core";
