/** Every op the compiler knows; importing this module registers them. */
import "./conv.js";
import "./norm.js";
import "./pool.js";
import "./linear.js";
import "./elementwise.js";
import "./shape.js";
import "./python.js";
import "./tensor.js";
import "./attention.js";
import "./swin.js";
import "./interpolate.js";

export { getOp, defineOp, type OpDef } from "./registry.js";
