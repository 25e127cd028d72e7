import { tf, type Tensor, type Tensor4D } from "../ops/tf.js";
import { TrainingError } from "../errors.js";

/**
 * Backward kernels the gradients call, written with forward ops (convolutions, a matrix product) so that
 * every backend runs them at its forward speed: tfjs's WebAssembly backend has no
 * Conv2DBackpropFilter, depthwise backward nor UnsortedSegmentSum (gather's gradient) kernels, and the plain-JavaScript backend's
 * Conv2DBackpropFilter is a direct loop (6 of resnet18's 7 seconds of backward at 32x32). Each
 * one reads its result back into a buffer of its own, so nothing it allocates outlives it.
 * Backends with their own (tensorflow, webgpu) keep them.
 */

type ConvAttrs = {
  readonly strides: number | readonly [number, number];
  readonly pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  readonly dimRoundingMode?: "floor" | "round" | "ceil";
  readonly dilations?: number | readonly [number, number];
  readonly dataFormat?: string;
};

const pair = (v: number | readonly [number, number] | undefined): [number, number] => (v === undefined ? [1, 1] : typeof v === "number" ? [v, v] : [v[0], v[1]]);

function unsupported(kernel: string, attrs: ConvAttrs): void {
  const [dh, dw] = pair(attrs.dilations);
  if (dh !== 1 || dw !== 1) throw new TrainingError(`kernel ${kernel} has no gradient for dilated convolutions here; train on the cpu or tensorflow backend's own kernels (backend: "tensorflow"), or freeze the dilated layers`);
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== "NHWC" && attrs.dataFormat !== "channelsLast") throw new TrainingError(`kernel ${kernel}: data format ${attrs.dataFormat} is not supported; fxc runs convolutions NHWC`);
}

/** x padded as the forward convolution padded it: [N, H + top + bottom, W + left + right, C]. */
function padLikeForward(x: Tensor4D, filterSize: readonly [number, number], attrs: ConvAttrs, depthwise: boolean): Tensor4D {
  const info = tf.backend_util.computeConv2DInfo(x.shape, [filterSize[0], filterSize[1], x.shape[3], 1], pair(attrs.strides), 1, attrs.pad as "valid", attrs.dimRoundingMode, depthwise);
  const { top, bottom, left, right } = info.padInfo;
  return tf.pad(x, [[0, 0], [top, Math.max(0, bottom)], [left, Math.max(0, right)], [0, 0]]);
}

/** dW[kh, kw, ci, co] = sum over n, oh, ow of xpad[n, oh*s + kh, ow*s + kw, ci] * dy[n, oh, ow, co]: a convolution over the batch, dilated by the stride. */
function conv2dFilterGradient(x: Tensor4D, dy: Tensor4D, filterShape: readonly [number, number, number, number], attrs: ConvAttrs): Tensor4D {
  const [kh, kw] = filterShape;
  const padded = padLikeForward(x, [kh, kw], attrs, false);
  const batchAsChannels = tf.transpose(padded, [3, 1, 2, 0]);
  const dyAsFilter = tf.transpose(dy, [1, 2, 0, 3]) as Tensor4D;
  const full = tf.conv2d(batchAsChannels, dyAsFilter, 1, "valid", "NHWC", pair(attrs.strides));
  return tf.transpose(tf.slice(full, [0, 0, 0, 0], [-1, kh, kw, -1]), [1, 2, 0, 3]);
}

/** The depthwise filter's gradient: the same, each channel on its own (channels and batch folded into the depthwise channels). */
function depthwiseFilterGradient(x: Tensor4D, dy: Tensor4D, filterShape: readonly [number, number, number, number], attrs: ConvAttrs): Tensor4D {
  const [kh, kw, channels, multiplier] = filterShape;
  if (multiplier !== 1) throw new TrainingError(`kernel DepthwiseConv2dNativeBackpropFilter: channel multiplier ${multiplier} has no gradient here; train on backend "tensorflow" or "cpu"`);
  const n = x.shape[0];
  const padded = padLikeForward(x, [kh, kw], attrs, true);
  const [, hp, wp] = padded.shape;
  const [, oh, ow] = dy.shape;
  const input = tf.reshape(tf.transpose(padded, [1, 2, 3, 0]), [1, hp, wp, channels * n]) as Tensor4D;
  const filter = tf.reshape(tf.transpose(dy, [1, 2, 3, 0]), [oh, ow, channels * n, 1]) as Tensor4D;
  const full = tf.depthwiseConv2d(input, filter, 1, "valid", "NHWC", pair(attrs.strides));
  const perSample = tf.reshape(tf.slice(full, [0, 0, 0, 0], [1, kh, kw, -1]), [kh, kw, channels, n]);
  return tf.reshape(tf.sum(perSample, 3), [kh, kw, channels, 1]);
}

/** The depthwise input's gradient: dy spread out by the stride, padded, convolved with the flipped filter. */
function depthwiseInputGradient(dy: Tensor4D, filter: Tensor4D, inputShape: readonly [number, number, number, number], attrs: ConvAttrs): Tensor4D {
  const [n, h, w, c] = inputShape;
  const [kh, kw, , multiplier] = filter.shape;
  if (multiplier !== 1) throw new TrainingError(`kernel DepthwiseConv2dNativeBackpropInput: channel multiplier ${multiplier} has no gradient here; train on backend "tensorflow" or "cpu"`);
  const [sh, sw] = pair(attrs.strides);
  const [, oh, ow] = dy.shape;
  const info = tf.backend_util.computeConv2DInfo([n, h, w, c], [kh, kw, c, 1], [sh, sw], 1, attrs.pad as "valid", attrs.dimRoundingMode, true);
  // Zeros between dy's rows and columns: [N, (oh - 1) * sh + 1, (ow - 1) * sw + 1, C].
  const spread = tf.slice(
    tf.reshape(tf.pad(tf.reshape(dy, [n, oh, 1, ow, 1, c]), [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]), [n, oh * sh, ow * sw, c]),
    [0, 0, 0, 0],
    [n, (oh - 1) * sh + 1, (ow - 1) * sw + 1, c],
  );
  const top = kh - 1 - info.padInfo.top;
  const left = kw - 1 - info.padInfo.left;
  const bottom = h + kh - 1 - top - ((oh - 1) * sh + 1);
  const right = w + kw - 1 - left - ((ow - 1) * sw + 1);
  const padded = tf.pad(spread, [[0, 0], [Math.max(0, top), Math.max(0, bottom)], [Math.max(0, left), Math.max(0, right)], [0, 0]]);
  const cropped = tf.slice(padded, [0, Math.max(0, -top), Math.max(0, -left), 0], [n, h + kh - 1, w + kw - 1, c]) as Tensor4D;
  return tf.depthwiseConv2d(cropped, tf.reverse(filter, [0, 1]) as Tensor4D, 1, "valid");
}

type KernelFunc = (args: { inputs: Record<string, tf.TensorInfo>; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }) => tf.TensorInfo;

/** A kernel computed with tfjs ops on the same backend; its result is copied into a buffer the backend owns alone. */
function opKernel(compute: (inputs: Record<string, Tensor>, attrs: tf.NamedAttrMap) => Tensor): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const result = tf.tidy(() => {
      // A tensor over each input's data, holding a reference of its own: freeing it leaves the caller's data alone.
      const wrapped = Object.fromEntries(
        Object.entries(inputs).map(([k, info]) => {
          backend.incRef(info.dataId);
          return [k, tf.engine().makeTensorFromTensorInfo(info, backend)];
        }),
      );
      return compute(wrapped, attrs ?? {});
    });
    const values = result.dataSync() as Float32Array;
    const shape = result.shape;
    result.dispose();
    return { dataId: backend.write(values, shape, "float32"), shape, dtype: "float32" };
  };
}

/** tf.gather's gradient: rows of x summed into numSegments rows by id, as a one-hot matrix product (interpolate's index gathers are short). */
function unsortedSegmentSum(x: Tensor, segmentIds: Tensor, numSegments: number): Tensor {
  const [n, ...rest] = x.shape;
  const oneHot = tf.oneHot(tf.cast(segmentIds, "int32") as tf.Tensor1D, numSegments);
  const rows = tf.reshape(x, [n!, rest.reduce((a, b) => a * b, 1)]);
  return tf.reshape(tf.matMul(tf.cast(oneHot, "float32"), rows, true, false), [numSegments, ...rest]);
}

type Shape4 = [number, number, number, number];
type ConvBackwardAttrs = ConvAttrs & { readonly filterShape: Shape4; readonly inputShape: Shape4 };

/** A convolution's backward kernel: refuses what it cannot compute (one line naming it), then computes from two 4-D inputs. */
function convBackward(name: string, backends: readonly string[], inputs: readonly [string, string], compute: (a: Tensor4D, b: Tensor4D, attrs: ConvBackwardAttrs) => Tensor) {
  return {
    name,
    backends,
    kernelFunc: opKernel((given, attrs) => {
      const a = attrs as unknown as ConvBackwardAttrs;
      unsupported(name, a);
      return compute(given[inputs[0]] as Tensor4D, given[inputs[1]] as Tensor4D, a);
    }),
  };
}

const KERNELS: ReadonlyArray<{ readonly name: string; readonly backends: readonly string[]; readonly kernelFunc: KernelFunc }> = [
  convBackward("Conv2DBackpropFilter", ["wasm", "cpu"], ["x", "dy"], (x, dy, a) => conv2dFilterGradient(x, dy, a.filterShape, a)),
  convBackward("DepthwiseConv2dNativeBackpropFilter", ["wasm"], ["x", "dy"], (x, dy, a) => depthwiseFilterGradient(x, dy, a.filterShape, a)),
  convBackward("DepthwiseConv2dNativeBackpropInput", ["wasm"], ["dy", "filter"], (dy, filter, a) => depthwiseInputGradient(dy, filter, a.inputShape, a)),
  {
    name: "UnsortedSegmentSum",
    backends: ["wasm"],
    kernelFunc: opKernel(({ x, segmentIds }, attrs) => unsortedSegmentSum(x!, segmentIds!, (attrs as unknown as { numSegments: number }).numSegments)),
  },
];

const registered = new Set<string>();

/**
 * Registers these kernels for the backends registered by now (called when an extractor loads for
 * training, after its backend started), each once; a backend's own kernel of that name is replaced.
 */
export function registerBackwardKernels(): void {
  for (const { name, backends, kernelFunc } of KERNELS) {
    for (const backendName of backends) {
      if (registered.has(`${name}/${backendName}`) || tf.findBackendFactory(backendName) === undefined) continue;
      // Replaces the backend's own (cpu's loop) without tfjs's "already registered" warning.
      if (tf.getKernel(name, backendName) !== undefined) tf.unregisterKernel(name, backendName);
      tf.registerKernel({ kernelName: name, backendName, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
      registered.add(`${name}/${backendName}`);
    }
  }
}
