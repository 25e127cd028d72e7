// A module resolution hook that makes onnxruntime-node look uninstalled.
export async function resolve(specifier, context, next) {
  if (specifier === "onnxruntime-node") {
    const error = new Error(`Cannot find package 'onnxruntime-node' imported from ${context.parentURL}`);
    error.code = "ERR_MODULE_NOT_FOUND";
    throw error;
  }
  return next(specifier, context);
}
