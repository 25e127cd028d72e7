// A module resolution hook that makes `@tensorflow/tfjs-node` resolve to the stand-in.
const target = new URL("./index.mjs", import.meta.url).href;
export async function resolve(specifier, context, next) {
  if (specifier === "@tensorflow/tfjs-node") return { url: target, shortCircuit: true };
  return next(specifier, context);
}
