import { tf } from "./ops/tf.js";
import { adapterLabel, registerWebgpu, webgpuAdapter as webgpuAdapterSummary, type GpuAdapterSummary } from "./webgpu.js";
// Registered on import, so that whatever the user calls first works: a tensor made before load()
// (tf.zeros, tf.tensor4d) lives on the plain-JavaScript backend, which needs no initialization;
// load() then makes the best installed backend current, and tfjs moves such tensors' data to it.
import "@tensorflow/tfjs-backend-cpu";
import { FxcError } from "./errors.js";

// Production mode, from the start: no per-op debug checks, and no console banner from the cpu backend.
tf.env().set("PROD", true);

export type BackendName = "webgpu" | "tensorflow" | "wasm" | "cpu";
/** Best first: what `auto` tries (webgpu only on a real GPU adapter, never on a CPU emulation). */
export const BACKENDS: readonly BackendName[] = ["webgpu", "tensorflow", "wasm", "cpu"];

/** The backend picked, and what the user is told about it. */
export interface BackendChoice {
  readonly name: BackendName;
  /** The GPU adapter the webgpu backend runs on (e.g. `nvidia-h200`); undefined on other backends. */
  readonly adapter?: string;
  /** Why auto mode did not use the GPU it found (its backend failed to start); undefined otherwise. */
  readonly fallback?: string;
}

export class BackendError extends FxcError {
  override readonly name = "BackendError";
}

/** Packages that provide the native TensorFlow backend, best first. Never dependencies of fxc. */
const NATIVE_PACKAGES = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"];

/** Why a backend cannot be used; `gpuFailed` when it is webgpu on a real GPU that would not start. */
interface Unavailable {
  readonly why: string;
  readonly gpuFailed?: boolean;
}

/** Registers a backend with tfjs; returns why it is unavailable, or undefined when it is ready to use. */
async function register(name: BackendName, forced: boolean): Promise<Unavailable | undefined> {
  if (name === "webgpu") {
    // Checked every time: auto mode refuses an emulated adapter that a forced call registered.
    const webgpu = await registerWebgpu(forced);
    return "why" in webgpu ? webgpu : undefined;
  }
  const why = await registerTfjsPackage(name);
  return why === undefined ? undefined : { why };
}

/** Registers a backend a tfjs package provides; returns why it is unavailable, or undefined. */
async function registerTfjsPackage(name: Exclude<BackendName, "webgpu">): Promise<string | undefined> {
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
 * Makes `preferred` the tfjs backend, or picks the best available one: webgpu on a real GPU, the
 * native TensorFlow backend when the user installed it, then WebAssembly, then plain JavaScript.
 * Returns the backend picked.
 */
export async function useBackend(preferred: BackendName | "auto" = "auto"): Promise<BackendName> {
  return (await chooseBackend(preferred)).name;
}

/** As `useBackend`, with the GPU adapter and, in auto mode, why a GPU that was found is not used. */
export async function chooseBackend(preferred: BackendName | "auto" = "auto"): Promise<BackendChoice> {
  if (preferred !== "auto") {
    if (!BACKENDS.includes(preferred)) {
      throw new BackendError(`unknown backend '${String(preferred)}'; use one of ${BACKENDS.join(", ")} or auto`);
    }
    const unavailable = await register(preferred, true);
    if (unavailable !== undefined) throw new BackendError(`backend '${preferred}' is not available: ${unavailable.why}${otherBackends(preferred)}`);
    const failed = await initialize(preferred);
    if (failed !== undefined) throw new BackendError(`backend '${preferred}' failed to initialize${failed}${otherBackends(preferred)}`);
    return described(preferred);
  }
  // Why a GPU that was found is not used: worth telling an auto-mode user, unlike a machine without one.
  let gpuFailure: string | undefined;
  for (const name of BACKENDS) {
    const unavailable = await register(name, false);
    if (unavailable?.gpuFailed === true) gpuFailure = `webgpu did not start: ${unavailable.why}`;
    if (unavailable !== undefined) continue;
    const failed = await initialize(name);
    if (failed === undefined) return { ...described(name), fallback: name === "webgpu" ? undefined : gpuFailure };
    // A GPU was found but its backend did not start: say so, and run on the next one.
    if (name === "webgpu") gpuFailure = `webgpu failed to initialize${failed}`;
  }
  throw new BackendError("no tfjs backend could be initialized");
}

/** Sets the tfjs backend; returns undefined when it worked, else `: why` (empty when tfjs gives no reason). */
async function initialize(name: BackendName): Promise<string | undefined> {
  try {
    if (await tf.setBackend(name)) return undefined;
    return "";
  } catch (e) {
    return `: ${e instanceof Error ? e.message : String(e)}`;
  }
}

function described(name: BackendName): BackendChoice {
  const adapter: GpuAdapterSummary | undefined = name === "webgpu" ? webgpuAdapterSummary() : undefined;
  return adapter === undefined ? { name } : { name, adapter: adapterLabel(adapter) };
}

/** The hint after a named backend's failure: webgpu's is the CPU backends. */
function otherBackends(name: BackendName): string {
  return name === "webgpu" ? "; use --backend wasm (options.backend: \"wasm\") to run on the CPU" : "";
}

/**
 * Backends that can be used on this machine, best first (webgpu on any adapter, a CPU emulation
 * included); `names` limits the question, so that asking about wasm does not start Dawn.
 */
export async function availableBackends(names: readonly BackendName[] = BACKENDS): Promise<BackendName[]> {
  const out: BackendName[] = [];
  for (const name of BACKENDS) if (names.includes(name) && (await register(name, true)) === undefined) out.push(name);
  return out;
}
