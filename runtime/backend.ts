import { tf } from "./ops/tf.js";
import { adapterLabel, registerWebgpu, webgpuAdapter as webgpuAdapterSummary, type GpuAdapterSummary } from "./webgpu/adapter.js";
import { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { FxcError } from "./errors.js";
import { registerWasm, wasmFailureFix, type WasmPaths } from "./wasm.js";

// Production mode, from the start: no per-op debug checks, and no console banner from the cpu backend.
tf.env().set("PROD", true);
// Registered on import, so that whatever the user calls first works: a tensor made before load()
// (tf.zeros, tf.tensor4d) lives on the plain-JavaScript backend, which needs no initialization;
// load() then makes the best installed backend current, and tfjs moves such tensors' data to it.
// Importing the package registers it; the binding is used so that no bundler drops the import
// (esbuild drops a bare import of its Node build, which its sideEffects list leaves out).
if (tf.findBackendFactory("cpu") === null) tf.registerBackend("cpu", () => new MathBackendCPU(), 1);

export type BackendName = "webgpu" | "tensorflow" | "wasm" | "cpu";
/** Best first: what `auto` tries (webgpu only on a real GPU adapter, never on a CPU emulation), up to wasm: cpu is used only by name. */
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

/** How the backends are set up, beyond which one. */
export interface BackendOptions {
  /** Where tfjs's WebAssembly backend finds its .wasm files (see WasmPaths); by default next to the code that runs (a bundle's folder), else in the installed package. */
  readonly wasmPaths?: WasmPaths;
}

/** Registers a backend with tfjs; returns why it is unavailable, or undefined when it is ready to use. */
async function register(name: BackendName, forced: boolean, options: BackendOptions): Promise<Unavailable | undefined> {
  if (name === "webgpu") {
    // Checked every time: auto mode refuses an emulated adapter that a forced call registered.
    const webgpu = await registerWebgpu(forced);
    return "why" in webgpu ? webgpu : undefined;
  }
  const why = name === "wasm" ? await registerWasm(options.wasmPaths) : await registerTfjsPackage(name);
  return why === undefined ? undefined : { why };
}

/** Registers a backend a tfjs package provides; returns why it is unavailable, or undefined. */
async function registerTfjsPackage(name: Exclude<BackendName, "webgpu" | "wasm">): Promise<string | undefined> {
  if (tf.findBackendFactory(name) !== null) return undefined;
  if (name === "cpu") await import("@tensorflow/tfjs-backend-cpu");
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
 * native TensorFlow backend when the user installed it, then WebAssembly (plain JavaScript only
 * when named). Returns the backend picked.
 */
export async function useBackend(preferred: BackendName | "auto" = "auto", options: BackendOptions = {}): Promise<BackendName> {
  return (await chooseBackend(preferred, options)).name;
}

/**
 * As `useBackend`, with the GPU adapter and, in auto mode, why a GPU that was found is not used.
 * Auto mode never falls back to the plain-JavaScript backend silently: when WebAssembly is the
 * best one and does not start (its .wasm files not found, say), that is an error naming why.
 */
export async function chooseBackend(preferred: BackendName | "auto" = "auto", options: BackendOptions = {}): Promise<BackendChoice> {
  if (preferred !== "auto") {
    if (!BACKENDS.includes(preferred)) {
      throw new BackendError(`unknown backend '${String(preferred)}'; use one of ${BACKENDS.join(", ")} or auto`);
    }
    const unavailable = await register(preferred, true, options);
    if (unavailable !== undefined) throw new BackendError(`backend '${preferred}' is not available: ${unavailable.why}${otherBackends(preferred)}`);
    const failed = await initialize(preferred);
    if (failed !== undefined) throw new BackendError(`backend '${preferred}' failed to initialize${failed}${otherBackends(preferred)}`);
    return described(preferred);
  }
  // Why a GPU that was found is not used: worth telling an auto-mode user, unlike a machine without one.
  let gpuFailure: string | undefined;
  for (const name of BACKENDS) {
    const unavailable = await register(name, false, options);
    if (unavailable?.gpuFailed === true) gpuFailure = `webgpu did not start: ${unavailable.why}`;
    // The plain-JavaScript backend is tens of times slower: only by name (--backend cpu), never as a quiet fallback.
    if (name === "wasm" && unavailable !== undefined) throw new BackendError(`the wasm backend (the default here) is not available: ${unavailable.why}${CPU_BY_NAME}`);
    if (unavailable !== undefined) continue;
    const failed = await initialize(name);
    if (failed === undefined) return { ...described(name), fallback: name === "webgpu" ? undefined : gpuFailure };
    if (name === "wasm") throw new BackendError(`the wasm backend (the default here) failed to initialize${failed}${CPU_BY_NAME}`);
    // A GPU was found but its backend did not start: say so, and run on the next one.
    if (name === "webgpu") gpuFailure = `webgpu failed to initialize${failed}`;
  }
  throw new BackendError("no tfjs backend could be initialized");
}

/** After the fix of a default backend that failed: the slow one is there, by name. */
const CPU_BY_NAME = "; or run on plain JavaScript, many times slower, by naming it (--backend cpu, options.backend: \"cpu\")";

/** Sets the tfjs backend; returns undefined when it worked, else `: why` (empty when tfjs gives no reason). */
async function initialize(name: BackendName): Promise<string | undefined> {
  try {
    if (await tf.setBackend(name)) return undefined;
    const failure = await initializationFailure(name);
    return name === "wasm" ? `${failure}${wasmFailureFix(failure)}` : failure;
  } catch (e) {
    return `: ${messageOf(e)}`;
  }
}

/** tfjs keeps a backend's initialization error to itself in production mode; its factory, asked again, gives it (not webgpu's: fxc's own, which reports its failures). */
async function initializationFailure(name: BackendName): Promise<string> {
  if (name === "webgpu") return "";
  try {
    (await tf.findBackendFactory(name)?.())?.dispose();
    return "";
  } catch (e) {
    return `: ${messageOf(e)}`;
  }
}

/** An error's message; tfjs-backend-wasm rejects with a plain `{ message }`. */
function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === "object" && e !== null && typeof (e as { message?: unknown }).message === "string") return (e as { message: string }).message;
  return String(e);
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
  for (const name of BACKENDS) if (names.includes(name) && (await register(name, true, {})) === undefined) out.push(name);
  return out;
}
