// Stands in for @tensorflow/tfjs-node in tests: it registers a "tensorflow" backend with the
// same tfjs-core fxc uses, as the real package does, but backed by the cpu kernels.
import * as tf from "@tensorflow/tfjs-core";
import { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";

tf.registerBackend("tensorflow", () => new MathBackendCPU(), 3);
for (const kernel of tf.getKernelsForBackend("cpu")) tf.registerKernel({ ...kernel, backendName: "tensorflow" });
