/** The one tfjs-core instance every kernel uses, so backends registered by the user apply. */
export * as tf from "@tensorflow/tfjs-core";
export type { Scalar, Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D, Tensor5D, Rank } from "@tensorflow/tfjs-core";
/** Not re-exported by tfjs-core's index; the same type. */
export type Tensor6D = import("@tensorflow/tfjs-core").Tensor<import("@tensorflow/tfjs-core").Rank.R6>;
