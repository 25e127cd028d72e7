import { tf } from "./ops/tf.js";
// Registered on import, so that whatever the user calls first works: a tensor made before load()
// (tf.zeros, tf.tensor4d) lives on the plain-JavaScript backend, which needs no initialization;
// load() then makes the best installed backend current, and tfjs moves such tensors' data to it.
import "@tensorflow/tfjs-backend-cpu";

// Production mode, from the start: no per-op debug checks, and no console banner from the cpu backend.
tf.env().set("PROD", true);

export type BackendName = "tensorflow" | "wasm" | "cpu";
export const BACKENDS: readonly BackendName[] = ["tensorflow", "wasm", "cpu"];

export class BackendError extends Error {
  override readonly name = "BackendError";
}

/** Packages that provide the native TensorFlow backend, best first. Never dependencies of fxc. */
const NATIVE_PACKAGES = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"];

/** Registers a backend with tfjs; returns why it is unavailable, or undefined when it is ready to use. */
async function register(name: BackendName): Promise<string | undefined> {
  if (tf.findBackendFactory(name) !== null) return undefined;
  if (name === "wasm") await import("@tensorflow/tfjs-backend-wasm");
  else if (name === "cpu") await import("@tensorflow/tfjs-backend-cpu");
  else {
    let installed: string | undefined;
    for (const pkg of NATIVE_PACKAGES) {
      try {
        await import(pkg);
        installed = pkg;
        break;
      } catch {
        // Not installed: try the next one.
      }
    }
    if (installed === undefined) return `neither ${NATIVE_PACKAGES.join(" nor ")} is installed`;
    if (tf.findBackendFactory(name) === null) {
      return `${installed} registered its backend with another copy of @tensorflow/tfjs-core; install versions that match fxc's (${tf.version_core})`;
    }
  }
  return tf.findBackendFactory(name) === null ? `the ${name} backend did not register` : undefined;
}

/**
 * Makes `preferred` the tfjs backend, or picks the best available one: the native
 * TensorFlow backend when the user installed it, then WebAssembly, then plain JavaScript.
 * Returns the backend picked.
 */
export async function useBackend(preferred: BackendName | "auto" = "auto"): Promise<BackendName> {
  if (preferred !== "auto") {
    if (!BACKENDS.includes(preferred)) {
      throw new BackendError(`unknown backend '${String(preferred)}'; use one of ${BACKENDS.join(", ")} or auto`);
    }
    const why = await register(preferred);
    if (why !== undefined) throw new BackendError(`backend '${preferred}' is not available: ${why}`);
    if (!(await tf.setBackend(preferred))) throw new BackendError(`backend '${preferred}' failed to initialize`);
    return preferred;
  }
  for (const name of BACKENDS) {
    if ((await register(name)) !== undefined) continue;
    if (await tf.setBackend(name)) return name;
  }
  throw new BackendError("no tfjs backend could be initialized");
}

/** Backends that can be used on this machine, best first. */
export async function availableBackends(): Promise<BackendName[]> {
  const out: BackendName[] = [];
  for (const name of BACKENDS) if ((await register(name)) === undefined) out.push(name);
  return out;
}
