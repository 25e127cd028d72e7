/** Runtime pieces the tests use directly. */
export { openWeights } from "../../runtime/index.js";
export { permute } from "../../runtime/params.js";
