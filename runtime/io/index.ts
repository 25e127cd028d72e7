export { openAtomic, withAtomicFile, writeFileAtomic, type AtomicFile } from "./atomic.js";
export { encodeNpy, npyHeader, NpyError, parseNpy, readNpy, writeNpy, type NpyArray } from "./npy.js";
