export { openAtomic, withAtomicFile, writeFileAtomic, type AtomicFile } from "./atomic.js";
export { encodeNpy, NpyError, parseNpy, readNpy, writeNpy, type NpyArray } from "./npy.js";
