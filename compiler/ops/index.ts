/**
 * Every op the compiler knows; importing this module registers them. Each family file is named
 * as the runtime file of the kernels its ops lower to (runtime/ops/<family>.ts); lowering,
 * registry and schema are the machinery, layout the storage-order rules, and custom.ts (user ops,
 * registered by the tracer) is imported where a model defines one.
 */
import "./conv.js";
import "./norm.js";
import "./pool.js";
import "./linear.js";
import "./elementwise.js";
import "./activation.js";
import "./dropout.js";
import "./shape.js";
import "./reduction.js";
import "./python.js";
import "./swin.js";
import "./interpolate.js";

export { getOp, defineOp, type OpDef } from "./registry.js";
