import { FxcError } from "../errors.js";

/** Arrays handed to a detection kernel that do not fit its shapes or ranges; the message says which and how to fix it. */
export class DetectionInputError extends FxcError {
  override readonly name: string = "DetectionInputError";
}
