import { readdirSync } from "node:fs";
import { tf } from "../ops/tf.js";
import { hoistEnableDirectives } from "./program.js";

/**
 * tfjs's webgpu backend on Dawn (the optional `webgpu` package, a prebuilt dawn.node over Vulkan,
 * Metal or D3D12). fxc registers the backend itself, rather than letting
 * @tensorflow/tfjs-backend-webgpu do it on import, so that it picks the adapter, knows its name,
 * and hears the device's errors (tfjs-webgpu listens to none: a lost device or an out-of-memory
 * would otherwise surface as garbage results or a native message).
 */

/** What fxc reads of an adapter's GPUAdapterInfo (Dawn fills these; isFallbackAdapter on recent Dawn). */
export interface GpuAdapterInfo {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
  readonly isFallbackAdapter?: boolean;
  /** Chrome's non-standard adapter type ("discrete GPU", "integrated GPU", "CPU", "unknown"). */
  readonly type?: string;
}

/** The adapter the webgpu backend runs on, as fxc reports it. */
export interface GpuAdapterSummary {
  /** Dawn's device name (e.g. nvidia-h200), else its description. */
  readonly name: string;
  /** A CPU emulation of a GPU (lavapipe, llvmpipe, SwiftShader, WARP): used only when asked for by name. */
  readonly emulated: boolean;
}

/** Patterns of adapters that run on the CPU; auto mode never picks them. */
const EMULATIONS = /\b(lavapipe|llvmpipe|softpipe|swiftshader|warp|microsoft basic render)\b/i;

/** A CPU emulation of a GPU, by every sign an adapter gives of one. */
export function isEmulatedAdapter(info: GpuAdapterInfo): boolean {
  if (info.isFallbackAdapter === true) return true;
  if (info.architecture.toLowerCase() === "software" || /^cpu$/i.test(info.type ?? "")) return true;
  return EMULATIONS.test(`${info.vendor} ${info.architecture} ${info.device} ${info.description}`);
}

export function summarizeAdapter(info: GpuAdapterInfo): GpuAdapterSummary {
  // Dawn's device names are slugs, some with a trailing dash (llvmpipe-llvm-15-0-6-256-bits-).
  const name = info.device.trim().replace(/-+$/, "") || info.description.trim() || info.vendor.trim() || "unnamed adapter";
  return { name, emulated: isEmulatedAdapter(info) };
}

/** The line that names the adapter, e.g. `nvidia-h200` or `llvmpipe-… (a CPU emulation)`. */
export function adapterLabel(adapter: GpuAdapterSummary): string {
  return adapter.emulated ? `${adapter.name} (a CPU emulation of a GPU)` : adapter.name;
}

/**
 * Linux exposes a GPU as a device node (DRM render nodes, NVIDIA's, WSL's /dev/dxg). Without one,
 * auto mode skips loading Dawn at all: the answer would be "no GPU", after Dawn printed its
 * emulation's warnings to stderr. Elsewhere Dawn is asked.
 */
export function mayHaveGpu(devices = "/dev"): boolean {
  if (process.platform !== "linux") return true;
  try {
    if (readdirSync(devices).some((n) => /^(nvidia\d+|dxg)$/.test(n))) return true;
    return readdirSync(`${devices}/dri`).some((n) => n.startsWith("renderD"));
  } catch {
    return false;
  }
}

// The parts of the WebGPU API fxc calls, typed here: the DOM's WebGPU types are not in Node's lib.
interface GpuError {
  readonly message: string;
  readonly constructor: { readonly name: string };
}
interface GpuDevice {
  readonly features: ReadonlySet<string>;
  createShaderModule(descriptor: { readonly code: string; readonly label?: string }): unknown;
  readonly lost: Promise<{ readonly reason: string; readonly message: string }>;
  readonly queue: { onSubmittedWorkDone(): Promise<void> };
  pushErrorScope(filter: "validation" | "out-of-memory" | "internal"): void;
  popErrorScope(): Promise<GpuError | null>;
  onuncapturederror: ((event: { readonly error: GpuError; preventDefault(): void }) => void) | null;
}
interface GpuAdapter {
  readonly info: GpuAdapterInfo;
  readonly features: ReadonlySet<string>;
  readonly limits: Readonly<Record<string, number>>;
  requestDevice(descriptor: { requiredFeatures: string[]; requiredLimits: Record<string, number> }): Promise<GpuDevice>;
}
interface Gpu {
  requestAdapter(options: { powerPreference: "high-performance" | "low-power" }): Promise<GpuAdapter | null>;
}
interface DawnModule {
  create(flags: string[]): Gpu;
  readonly globals: Readonly<Record<string, unknown>>;
}
interface WebgpuBackendModule {
  readonly WebGPUBackend: new (device: GpuDevice, info: GpuAdapterInfo) => tf.KernelBackend;
}

/** tfjs-webgpu's command batching (not in its typings): an open encoder holds dispatches not yet submitted. */
interface TfjsWebgpuQueue {
  readonly commandEncoder: object | null;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

/** How a device failed: lost, out of memory, a tensor over its binding limit, a shader that did not compile, anything else. */
type FailureKind = "lost" | "out-of-memory" | "too-large" | "shader" | "error";

/** The kind of an error the device raised, by its class and Dawn's wording. */
export function failureKind(errorClass: string, message: string): FailureKind {
  if (errorClass === "GPUOutOfMemoryError") return "out-of-memory";
  if (/larger than the maximum storage buffer binding size|exceeds the max buffer size/i.test(message)) return "too-large";
  if (/WGSL|CreateShaderModule/.test(message)) return "shader";
  return "error";
}

/** What happened to the device, first thing first: fxc reports the first failure, which caused the rest. */
interface DeviceHealth {
  failure?: { readonly kind: FailureKind; readonly detail: string };
}

interface Registered {
  readonly adapter: GpuAdapterSummary;
  readonly device: GpuDevice;
  readonly health: DeviceHealth;
}

const INSTALL = "npm install webgpu @tensorflow/tfjs-backend-webgpu";
let registered: Registered | undefined;
let gpu: Gpu | undefined;

/** Dawn's GPU object, loaded once; the WebGPU constants tfjs-webgpu reads as globals are defined if missing. */
async function dawn(): Promise<Gpu | string> {
  if (gpu !== undefined) return gpu;
  let module: DawnModule;
  try {
    module = (await import("webgpu")) as unknown as DawnModule;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") return `the optional package webgpu (Dawn) is not installed (${INSTALL})`;
    return `Dawn (the webgpu package) did not load: ${e instanceof Error ? e.message : String(e)}`;
  }
  for (const [name, value] of Object.entries(module.globals)) {
    if (!(name in globalThis)) Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
  }
  gpu = module.create([]);
  return gpu;
}

/** The adapter Dawn offers (high-performance first), or why there is none. */
export async function findAdapter(): Promise<{ readonly adapter: GpuAdapter } | { readonly why: string }> {
  const found = await dawn();
  if (typeof found === "string") return { why: found };
  const adapter = await found.requestAdapter({ powerPreference: "high-performance" });
  if (adapter === null) {
    return { why: "Dawn found no WebGPU adapter (no Vulkan, Metal or D3D12 driver for a GPU; on Linux without a GPU, Mesa 25's lavapipe emulates one)" };
  }
  return { adapter };
}

/** Why the webgpu backend cannot be used; `gpuFailed` when a real GPU was found and would not start (auto mode says so). */
export interface WebgpuUnavailable {
  readonly why: string;
  readonly gpuFailed?: boolean;
}

/**
 * Registers tfjs's webgpu backend on a device of Dawn's adapter, created here so that its failure
 * is a reason fxc can print (tfjs would print a stack and answer false). With `allowEmulation`
 * false (auto mode) a CPU emulation is refused, and Dawn is not loaded when `gpuDevicePresent` says
 * there is no GPU (tests pass their own). Returns the adapter, or why the backend cannot be used.
 */
export async function registerWebgpu(allowEmulation: boolean, gpuDevicePresent: () => boolean = mayHaveGpu): Promise<{ readonly adapter: GpuAdapterSummary } | WebgpuUnavailable> {
  const notGpu = (adapter: GpuAdapterSummary): WebgpuUnavailable => ({ why: `its only adapter, ${adapterLabel(adapter)}, is not a GPU (name the backend to use it: --backend webgpu)` });
  if (registered !== undefined && tf.findBackendFactory("webgpu") !== null) {
    return !allowEmulation && registered.adapter.emulated ? notGpu(registered.adapter) : { adapter: registered.adapter };
  }
  if (!allowEmulation && !gpuDevicePresent()) return { why: "this machine has no GPU device" };
  const found = await findAdapter();
  if ("why" in found) return found;
  const adapter = summarizeAdapter(found.adapter.info);
  if (!allowEmulation && adapter.emulated) return notGpu(adapter);
  let backendModule: WebgpuBackendModule;
  try {
    backendModule = (await import("@tensorflow/tfjs-backend-webgpu")) as unknown as WebgpuBackendModule;
  } catch {
    return { why: `the optional package @tensorflow/tfjs-backend-webgpu is not installed (${INSTALL})` };
  }
  // WebGPUBackend checks navigator.gpu; defined after the import, so that the package does not register a backend of its own.
  const gpuGlobal = await dawn();
  if (typeof gpuGlobal !== "string") defineNavigatorGpu(gpuGlobal);
  const gpuAdapter = found.adapter;
  // The same features and limits tfjs-webgpu's own registration asks for, and shader-f16 for webgpuKernels "fxc-f16" (where the adapter has it).
  const requiredFeatures = ["timestamp-query", "bgra8unorm-storage", "shader-f16"].filter((f) => gpuAdapter.features.has(f));
  const limits = ["maxComputeWorkgroupStorageSize", "maxComputeWorkgroupsPerDimension", "maxStorageBufferBindingSize", "maxBufferSize", "maxComputeWorkgroupSizeX", "maxComputeInvocationsPerWorkgroup"];
  const requiredLimits = Object.fromEntries(limits.map((name) => [name, gpuAdapter.limits[name]!]));
  let device: GpuDevice;
  try {
    device = await gpuAdapter.requestDevice({ requiredFeatures, requiredLimits });
  } catch (e) {
    return { why: `the adapter ${adapterLabel(adapter)} did not give a device (${firstLine(e instanceof Error ? e.message : String(e))})`, gpuFailed: !adapter.emulated };
  }
  hoistDirectives(device);
  const health: DeviceHealth = {};
  watchDevice(device, health);
  if (tf.findBackendFactory("webgpu") !== null) tf.removeBackend("webgpu");
  tf.registerBackend("webgpu", () => new backendModule.WebGPUBackend(device, gpuAdapter.info), 3);
  registered = { adapter, device, health };
  return { adapter };
}

function defineNavigatorGpu(gpu: Gpu): void {
  const holder = globalThis as { navigator?: { gpu?: unknown } };
  if (holder.navigator === undefined) Object.defineProperty(globalThis, "navigator", { value: { gpu }, configurable: true, writable: true });
  else if (holder.navigator.gpu === undefined) Object.defineProperty(holder.navigator, "gpu", { value: gpu, configurable: true });
}

/** tfjs-webgpu compiles every program on this device: a program's `enable` directives reach the front of its module (program.ts's hoistEnableDirectives). */
function hoistDirectives(device: GpuDevice): void {
  const create = device.createShaderModule.bind(device);
  device.createShaderModule = (descriptor) => create({ ...descriptor, code: hoistEnableDirectives(descriptor.code) });
}

function firstLine(text: string): string {
  return text.split("\n").find((l) => l.trim() !== "")?.trim() ?? text;
}

function watchDevice(device: GpuDevice, health: DeviceHealth): void {
  void device.lost.then((info) => {
    // A device fxc destroyed on purpose is not a failure.
    if (info.reason !== "destroyed") health.failure ??= { kind: "lost", detail: info.message || info.reason };
  });
  device.onuncapturederror = (event) => {
    // Handled here: Dawn would otherwise print the multi-line error itself.
    event.preventDefault();
    health.failure ??= { kind: failureKind(event.error.constructor.name, event.error.message), detail: event.error.message };
  };
}

/** The adapter of the registered webgpu backend, if fxc registered it. */
export function webgpuAdapter(): GpuAdapterSummary | undefined {
  return registered?.adapter;
}

/**
 * Why webgpuKernels "fxc-f16" cannot run on the registered device (its adapter lacks shader-f16,
 * so fxc could not ask for it), as the one line fxc prints; undefined when it can. Never a quiet
 * fallback to fp32: the user asked for half precision's numerics.
 */
export function shaderF16Missing(): string | undefined {
  if (registered === undefined || registered.device.features.has("shader-f16")) return undefined;
  return `the webgpu adapter ${adapterLabel(registered.adapter)} lacks shader-f16, which webgpuKernels "fxc-f16" needs; use webgpuKernels "fxc" (fp32; --webgpu-kernels fxc)`;
}

/** The first failure of the device, as the one-line message fxc prints (what failed, and what to do). */
export function describeDeviceFailure(failure: NonNullable<DeviceHealth["failure"]>): string {
  const detail = firstLine(failure.detail) || failure.kind;
  const cpu = 'run on the CPU with --backend wasm (options.backend: "wasm")';
  switch (failure.kind) {
    case "lost":
      return `the webgpu backend lost its GPU device (${detail}); run again, or ${cpu}`;
    case "out-of-memory":
      return `the GPU ran out of memory on the webgpu backend (${detail}); use a smaller batch, or ${cpu}`;
    case "too-large":
      return `a tensor is larger than this GPU's WebGPU binding limit (${detail}); ${cpu}`;
    case "shader":
      return `a WebGPU shader failed to compile on the webgpu backend (${detail}); ${cpu}`;
    case "error":
      return `the webgpu backend failed (${detail}); ${cpu}`;
  }
}

/** The error scopes a run is watched with, pushed in this order (popped in reverse). */
const SCOPES = ["internal", "out-of-memory", "validation"] as const;

/**
 * Runs `work` (a forward that enqueues GPU work through tfjs) inside error scopes, submits what it
 * enqueued and waits until the GPU has run it; a failure of the device meanwhile (lost, out of
 * memory, a tensor over its limits, a shader that did not compile) is thrown as the one-line
 * message `onFailure` makes, so that results of a failed run never reach the caller. The scopes
 * keep a run's first error and drop the ones it causes ("invalid due to a previous error"), so
 * the next run starts clean; errors outside any run (the uncaptured handler's) are reported by
 * the next one. A lost device stays lost.
 */
export async function guardWebgpuRun<T>(work: () => T, dispose: (result: T) => void, onFailure: (message: string) => Error): Promise<T> {
  const state = registered;
  if (state === undefined) return work();
  const device = state.device;
  for (const scope of SCOPES) device.pushErrorScope(scope);
  let result: T | undefined;
  let thrown: { readonly error: unknown } | undefined;
  try {
    result = work();
  } catch (error) {
    thrown = { error };
  }
  // tfjs-webgpu batches dispatches; submit them inside the scopes, so that they cover them and the queue's promise does.
  const backend = tf.findBackend("webgpu") as (tf.KernelBackend & Partial<TfjsWebgpuQueue>) | null;
  if (backend?.commandEncoder) {
    backend.endComputePassEncoder?.();
    backend.submitQueue?.();
  }
  const scoped = await Promise.all(SCOPES.map(() => device.popErrorScope()));
  if (thrown !== undefined) throw thrown.error;
  await Promise.race([device.queue.onSubmittedWorkDone(), device.lost]);
  // Dawn delivers uncaptured errors as events: let those raised so far arrive.
  await new Promise((resolve) => setImmediate(resolve));
  const first = scoped.find((e): e is GpuError => e !== null);
  const failure = state.health.failure ?? (first === undefined ? undefined : { kind: failureKind(first.constructor.name, first.message), detail: first.message });
  if (failure === undefined) return result as T;
  // After any error but a lost device the device still works, and the next run may succeed.
  if (failure.kind !== "lost") state.health.failure = undefined;
  dispose(result as T);
  throw onFailure(describeDeviceFailure(failure));
}
