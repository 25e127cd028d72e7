import { InputShapeError } from "../../ops/input.js";
import { OnnxValue, transpose, identity } from "./onnx.js";

/** runtime/ops/input.ts over ONNX: the same shape check (at graph building), then channels-last storage. */
export function input(x: OnnxValue, attrs: { readonly layout: string; readonly shape: readonly (number | null)[] }): OnnxValue {
  const nchw = attrs.layout === "nchw";
  const [c, h, w] = attrs.shape;
  const expected = nchw ? ["N", c, h, w] : ["N", h, w, c];
  const ok = x.rank === 4 && expected.every((d, i) => d === "N" || d === null || d === x.shape[i]);
  if (!ok) {
    throw new InputShapeError(
      `input shape [${x.shape.join(", ")}] does not match the compiled [${expected.join(", ")}] (${attrs.layout.toUpperCase()}); ` +
        `resize the input, or compile for this size with --size`,
    );
  }
  return nchw ? transpose(x, [0, 2, 3, 1]) : identity(x);
}

export { InputShapeError };
