import { tf, type Tensor } from "../ops/tf.js";

/**
 * Records one forward's GPU commands on tfjs's webgpu backend and replays them, as a CUDA graph
 * is: tfjs-webgpu (4.22) spends JS time on every op of every call (engine bookkeeping, a uniform
 * buffer written, a bind group created, a dispatch encoded, a submit every 15 dispatches), while a
 * program's commands are the same for every input of one shape. A replay copies the new input
 * into the buffer the recording reads, encodes the recorded dispatches and copies into one
 * command encoder, copies each output into a fresh tensor and submits once.
 *
 * Capture is one ordinary forward during which every compute dispatch (pipeline, bind group,
 * workgroup counts), buffer copy and upload of constants tfjs encodes is kept in order. The
 * buffers those commands touch then belong to the recording: tfjs releases buffers to its pool as
 * usual during the capture (so the recording holds one forward's peak, not every intermediate),
 * and afterwards they are withdrawn from the pool, and those tfjs still holds (the weights) are
 * withdrawn when tfjs releases them. Uniform buffers are never pooled during a capture: tfjs
 * writes them from the CPU when a program is encoded, so a reused one would hold only its last
 * program's uniforms on replay. Anything a recording cannot reproduce refuses the capture, and that
 * input shape then runs ordinarily: a read back to the CPU (a data-dependent program such as
 * detection), textures, timers, random numbers (dropout), a write to a storage buffer from the
 * CPU, an output left on the CPU, a forward that throws.
 */

// The parts of the WebGPU API a recording calls, typed here: the DOM's WebGPU types are not in Node's lib.
interface GpuBuffer {
  readonly size: number;
  readonly usage: number;
  getMappedRange(): ArrayBuffer;
  unmap(): void;
  destroy(): void;
}
interface GpuBindGroupEntry {
  readonly binding: number;
  readonly resource: { readonly buffer?: GpuBuffer } | object;
}
interface GpuComputePass {
  setPipeline(pipeline: object): void;
  setBindGroup(index: number, group: object): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
  end(): void;
}
interface GpuCommandEncoder {
  beginComputePass(descriptor?: object): GpuComputePass;
  copyBufferToBuffer(source: GpuBuffer, sourceOffset: number, destination: GpuBuffer, destinationOffset: number, size: number): void;
  finish(): object;
}
interface GpuQueue {
  submit(buffers: object[]): void;
  writeBuffer(buffer: GpuBuffer, offset: number, data: ArrayBuffer | ArrayBufferView, dataOffset?: number, size?: number): void;
}
interface GpuDevice {
  readonly queue: GpuQueue;
  createBuffer(descriptor: { size: number; usage: number; mappedAtCreation?: boolean }): GpuBuffer;
  createCommandEncoder(): GpuCommandEncoder;
  createBindGroup(descriptor: { layout: object; entries: GpuBindGroupEntry[] }): object;
}

/** tfjs-webgpu's buffer pool (BufferManager), as 4.22 keeps it: lists by `${size}_${usage}`. */
interface TfjsBufferManager {
  freeBuffers: Map<string, GpuBuffer[]>;
  usedBuffers: Map<string, GpuBuffer[]>;
  numFreeBuffers: number;
  numUsedBuffers: number;
  numBytesUsed: number;
  numBytesAllocated: number;
  acquireBuffer(size: number, usage: number, mappedAtCreation?: boolean, reuse?: boolean): GpuBuffer;
  releaseBuffer(buffer: GpuBuffer, reuse?: boolean): void;
}
interface TfjsTensorData {
  values: ArrayLike<number> | null;
  readonly dtype: tf.DataType;
  readonly shape: number[];
  resource: GpuBuffer | object | null;
  external?: boolean;
}
interface DataId {
  readonly id: number;
}
/** The members of tfjs-webgpu's WebGPUBackend a recording reads or wraps (not in its typings). */
interface TfjsWebgpuBackend extends tf.KernelBackend {
  readonly device: GpuDevice;
  readonly queue: GpuQueue;
  readonly bufferManager: TfjsBufferManager;
  readonly tensorMap: { get(dataId: DataId): TfjsTensorData; has(dataId: DataId): boolean };
  commandEncoder: GpuCommandEncoder | null;
  readonly activeTimers?: unknown;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  uploadToGPU(dataId: DataId): void;
  makeTensorInfo(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

// WebGPU's GPUBufferUsage and GPUMapMode bits (the globals are Dawn's, defined when it loads).
const MAP_WRITE = 0x2;
const COPY_SRC = 0x4;
const COPY_DST = 0x8;
const UNIFORM = 0x40;
const STORAGE = 0x80;
/** The usage tfjs gives a tensor's buffer (uploadToGPU). */
const TENSOR_USAGE = STORAGE | COPY_SRC | COPY_DST;

/** How many input shapes keep a recording; the least recently used one is dropped beyond it. */
export const REPLAY_SHAPES = 4;

type Command =
  | { readonly kind: "dispatch"; readonly pipeline: object; readonly bindGroup: object; readonly workgroups: readonly [number, number, number] }
  | { readonly kind: "copy"; readonly source: GpuBuffer; readonly sourceOffset: number; readonly destination: GpuBuffer; readonly destinationOffset: number; readonly size: number };

interface RecordedOutput {
  readonly buffer: GpuBuffer;
  readonly shape: number[];
  readonly dtype: tf.DataType;
  readonly bytes: number;
}

/** A leaf of the features object: an output's index among the recorded outputs, or a value kept from the capture. */
type Template = { readonly output: number } | { readonly kept: unknown } | { readonly list: readonly Template[] } | { readonly record: readonly (readonly [string, Template])[]; readonly prototype: object | null };

/** One input shape's recorded forward and the buffers it owns. */
class Recording {
  constructor(
    readonly backend: TfjsWebgpuBackend,
    readonly inputs: readonly { readonly buffer: GpuBuffer; readonly bytes: number }[],
    readonly commands: readonly Command[],
    readonly outputs: readonly RecordedOutput[],
    readonly template: Template,
    /** Buffers only this recording uses: destroyed with it. */
    readonly owned: Set<GpuBuffer>,
    /** Buffers tfjs held at the capture (the weights, the outputs), perhaps other recordings' too: kept out of its pool once released, destroyed with their last claimant. */
    readonly claimed: Set<GpuBuffer>,
  ) {}
}

/** Where a buffer tfjs released must stay out of its pool: the capture in progress (uniforms), and the recordings' claims. */
interface PoolGuard {
  capturing: Set<GpuBuffer> | undefined;
  /** Each claimed buffer's recordings. */
  readonly claims: Map<GpuBuffer, Set<Recording>>;
  /** Claimed buffers tfjs has released: out of its pool until their last claimant is dropped. */
  readonly released: Set<GpuBuffer>;
}

const guards = new WeakMap<TfjsBufferManager, PoolGuard>();

/**
 * The guard of a backend's pool, installed once: tfjs's releaseBuffer keeps a buffer a recording
 * needs out of the pool (counted as released, as tfjs counts it, and still allocated).
 */
function poolGuard(manager: TfjsBufferManager): PoolGuard {
  const existing = guards.get(manager);
  if (existing !== undefined) return existing;
  const guard: PoolGuard = { capturing: undefined, claims: new Map(), released: new Set() };
  const release = manager.releaseBuffer.bind(manager);
  manager.releaseBuffer = (buffer, reuse = true) => {
    if (guard.claims.has(buffer)) {
      guard.released.add(buffer);
    } else if (guard.capturing !== undefined && (buffer.usage & UNIFORM) !== 0) {
      guard.capturing.add(buffer);
    } else {
      release(buffer, reuse);
      return;
    }
    // tfjs's own accounting of a release, without pooling the buffer.
    const used = manager.usedBuffers.get(bufferKey(buffer));
    const index = used?.indexOf(buffer) ?? -1;
    if (index >= 0) {
      used!.splice(index, 1);
      manager.numUsedBuffers--;
      manager.numBytesUsed -= buffer.size;
    }
  };
  guards.set(manager, guard);
  return guard;
}

function bufferKey(buffer: GpuBuffer): string {
  return `${buffer.size}_${buffer.usage}`;
}

/** Takes a buffer out of tfjs's free pool; false when it is not there. */
function withdraw(manager: TfjsBufferManager, buffer: GpuBuffer): boolean {
  const free = manager.freeBuffers.get(bufferKey(buffer));
  const index = free?.indexOf(buffer) ?? -1;
  if (index < 0) return false;
  free!.splice(index, 1);
  manager.numFreeBuffers--;
  return true;
}

/** Puts a buffer a capture kept back into tfjs's free pool (a refused capture gives back what it took). */
function restore(manager: TfjsBufferManager, buffer: GpuBuffer): void {
  const key = bufferKey(buffer);
  if (!manager.freeBuffers.has(key)) manager.freeBuffers.set(key, []);
  manager.freeBuffers.get(key)!.push(buffer);
  manager.numFreeBuffers++;
}

function holds(manager: TfjsBufferManager, buffer: GpuBuffer): boolean {
  return manager.usedBuffers.get(bufferKey(buffer))?.includes(buffer) === true;
}

/** A buffer outside tfjs's pool, counted among its allocated bytes as its own are. */
function privateBuffer(backend: TfjsWebgpuBackend, size: number, usage: number, mappedAtCreation = false): GpuBuffer {
  backend.bufferManager.numBytesAllocated += size;
  return backend.device.createBuffer({ size, usage, mappedAtCreation });
}

function destroyPrivate(backend: TfjsWebgpuBackend, buffer: GpuBuffer): void {
  buffer.destroy();
  backend.bufferManager.numBytesAllocated -= buffer.size;
}

/** Submits what tfjs has encoded and not submitted, so that commands of a replay come after it. */
function flush(backend: TfjsWebgpuBackend): void {
  backend.endComputePassEncoder();
  if (backend.commandEncoder !== null) backend.submitQueue();
}

function bytesOf(shape: readonly number[]): number {
  // tfjs-webgpu stores every dtype it runs in 4 bytes (GPUBytesPerElement).
  return 4 * shape.reduce((a, b) => a * b, 1);
}

/** A new tensor of tfjs's, its buffer from tfjs's pool, that `encoder` fills by copying `source`. */
function copiedTensor(backend: TfjsWebgpuBackend, encoder: GpuCommandEncoder, source: GpuBuffer, shape: number[], dtype: tf.DataType, bytes: number): Tensor {
  const info = backend.makeTensorInfo(shape, dtype);
  const buffer = backend.bufferManager.acquireBuffer(bytes, TENSOR_USAGE);
  backend.tensorMap.get(info.dataId as DataId).resource = buffer;
  if (bytes > 0) encoder.copyBufferToBuffer(source, 0, buffer, 0, bytes);
  return tf.engine().makeTensorFromTensorInfo(info);
}

/** The buffer behind a tensor on the GPU, uploading it first if it is still on the CPU. */
function gpuBuffer(backend: TfjsWebgpuBackend, t: Tensor): GpuBuffer | undefined {
  backend.uploadToGPU(t.dataId as DataId);
  const resource = backend.tensorMap.get(t.dataId as DataId).resource;
  return resource !== null && typeof resource === "object" && "usage" in resource ? (resource as GpuBuffer) : undefined;
}

function inputList<I>(x: I): readonly Tensor[] {
  return Array.isArray(x) ? (x as readonly Tensor[]) : [x as Tensor];
}

/** The key of a recording: the inputs' shapes and dtypes. */
function shapeKey(inputs: readonly Tensor[]): string {
  return inputs.map((t) => `${t.dtype}[${t.shape.join(",")}]`).join(" ");
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object") return false;
  const prototype = Object.getPrototypeOf(v) as unknown;
  return prototype === null || prototype === Object.prototype;
}

/** The features object with its tensors replaced by output indices, and those tensors in order. */
function templateOf(value: unknown, tensors: Tensor[]): Template {
  if (value instanceof tf.Tensor) return { output: tensors.push(value) - 1 };
  if (Array.isArray(value)) return { list: value.map((v) => templateOf(v, tensors)) };
  if (isPlainObject(value)) return { record: Object.entries(value).map(([k, v]) => [k, templateOf(v, tensors)] as const), prototype: Object.getPrototypeOf(value) as object | null };
  return { kept: value };
}

function fill(template: Template, outputs: readonly Tensor[]): unknown {
  if ("output" in template) return outputs[template.output];
  if ("list" in template) return template.list.map((t) => fill(t, outputs));
  if ("record" in template) {
    const record = Object.create(template.prototype) as Record<string, unknown>;
    for (const [key, t] of template.record) record[key] = fill(t, outputs);
    return record;
  }
  return template.kept;
}

/** Why a capture cannot be replayed; thrown inside the recorder's hooks only as a flag, never to the forward. */
class Refusal {
  constructor(readonly why: string) {}
}

/** What replay did with each input shape an extractor saw. */
export interface ReplayStatus {
  /** Input shapes with a recording, least recently used first (e.g. `float32[1,224,224,3]`). */
  readonly recorded: readonly string[];
  /** Input shapes that run ordinarily, and why their capture was refused. */
  readonly refused: Readonly<Record<string, string>>;
  /** GPU bytes the recordings own (intermediates, uniforms, input copies, constants), freed with them; tfjs counts them in numBytesAllocatedInGPU, not numBytesInGPU. */
  readonly bytes: number;
}

/**
 * One extractor's recordings, by input shape (REPLAY_SHAPES at most, least recently used dropped).
 * `run` replays a recorded shape, captures an unseen one, and runs the forward ordinarily where
 * replay does not apply: another backend, under gradients, a shape whose capture was refused.
 */
export class ForwardReplay<I, F> {
  readonly #recordings = new Map<string, Recording>();
  readonly #refused = new Map<string, string>();

  /**
   * @param resident tensors that outlive every forward (the weights): uploaded before a capture, so
   *   that the recording reads them in place rather than keeping a copy of each.
   */
  constructor(private readonly resident: () => readonly Tensor[]) {}

  status(): ReplayStatus {
    const buffers = new Set<GpuBuffer>();
    for (const recording of this.#recordings.values()) {
      const { released } = poolGuard(recording.backend.bufferManager);
      for (const buffer of recording.owned) buffers.add(buffer);
      for (const buffer of recording.claimed) if (released.has(buffer)) buffers.add(buffer);
    }
    let bytes = 0;
    for (const buffer of buffers) bytes += buffer.size;
    return { recorded: [...this.#recordings.keys()], refused: Object.fromEntries(this.#refused), bytes };
  }

  run(x: I, forward: (x: I) => F): F {
    const backend = tf.backend() as TfjsWebgpuBackend;
    const inputs = inputList(x);
    // tfjs moves a tensor of another backend when an op first reads it: the ordinary forward does.
    if (tf.getBackend() !== "webgpu" || tf.engine().state.gradientDepth > 0 || !inputs.every((t) => backend.tensorMap.has(t.dataId as DataId))) return forward(x);
    const key = shapeKey(inputs);
    if (this.#refused.has(key)) return forward(x);
    const recording = this.#recordings.get(key);
    if (recording !== undefined && recording.backend === backend) {
      // Most recently used last.
      this.#recordings.delete(key);
      this.#recordings.set(key, recording);
      return replay(recording, inputs) as F;
    }
    if (recording !== undefined) this.#drop(key);
    let captured: Captured<F>;
    try {
      captured = capture(backend, x, inputs, forward, this.resident());
    } catch (error) {
      // The forward's own error, thrown as an ordinary forward throws it; this shape is not captured again.
      this.#refused.set(key, `the forward threw (${error instanceof Error ? error.message : String(error)})`);
      throw error;
    }
    if ("refused" in captured) {
      if (captured.passing !== true) this.#refused.set(key, captured.refused);
      return captured.features;
    }
    this.#recordings.set(key, captured.recording);
    while (this.#recordings.size > REPLAY_SHAPES) this.#drop(this.#recordings.keys().next().value!);
    return captured.features;
  }

  /** Drops every recording, destroying its buffers and handing tfjs back those it still holds. */
  dispose(): void {
    for (const key of [...this.#recordings.keys()]) this.#drop(key);
    this.#refused.clear();
  }

  #drop(key: string): void {
    const recording = this.#recordings.get(key);
    if (recording === undefined) return;
    this.#recordings.delete(key);
    const guard = poolGuard(recording.backend.bufferManager);
    for (const buffer of recording.claimed) {
      const claimants = guard.claims.get(buffer);
      claimants?.delete(recording);
      if (claimants !== undefined && claimants.size > 0) continue;
      guard.claims.delete(buffer);
      // Released by tfjs meanwhile: no one else uses it. Still held: tfjs's again, to pool as usual.
      if (guard.released.delete(buffer)) destroyPrivate(recording.backend, buffer);
    }
    // A replay's work in flight still reads them; WebGPU defers destroying a buffer until the queue's work that uses it is done.
    for (const buffer of recording.owned) destroyPrivate(recording.backend, buffer);
    recording.owned.clear();
    recording.claimed.clear();
  }
}

/** Replays a recording on new inputs of its shape: one command encoder, one submit; the outputs are new tensors the caller owns. */
function replay(recording: Recording, inputs: readonly Tensor[]): unknown {
  const { backend } = recording;
  const sources = inputs.map((t) => gpuBuffer(backend, t)!);
  flush(backend);
  const encoder = backend.device.createCommandEncoder();
  recording.inputs.forEach((input, i) => input.bytes > 0 && encoder.copyBufferToBuffer(sources[i]!, 0, input.buffer, 0, input.bytes));
  let pass: GpuComputePass | undefined;
  let pipeline: object | undefined;
  for (const command of recording.commands) {
    if (command.kind === "dispatch") {
      if (pass === undefined) {
        pass = encoder.beginComputePass();
        pipeline = undefined;
      }
      if (command.pipeline !== pipeline) pass.setPipeline((pipeline = command.pipeline));
      pass.setBindGroup(0, command.bindGroup);
      pass.dispatchWorkgroups(...command.workgroups);
    } else {
      pass?.end();
      pass = undefined;
      encoder.copyBufferToBuffer(command.source, command.sourceOffset, command.destination, command.destinationOffset, command.size);
    }
  }
  pass?.end();
  const outputs = recording.outputs.map((o) => copiedTensor(backend, encoder, o.buffer, o.shape, o.dtype, o.bytes));
  backend.queue.submit([encoder.finish()]);
  return fill(recording.template, outputs);
}

/** A capture's result: its recording, or why there is none; `passing` when the cause goes away (timers, another capture), so the shape is tried again. */
type Captured<F> = { readonly recording: Recording; readonly features: F } | { readonly refused: string; readonly passing?: boolean; readonly features: F };

/** Methods a capture wraps on an object and puts back afterwards (own properties shadowing the prototype's). */
class Patches {
  readonly #undo: (() => void)[] = [];

  wrap<T extends object, K extends keyof T & string>(target: T, name: K, wrapper: (original: T[K]) => T[K]): void {
    const own = Object.prototype.hasOwnProperty.call(target, name);
    const previous = target[name];
    const original = (typeof previous === "function" ? (previous as (...a: unknown[]) => unknown).bind(target) : previous) as T[K];
    target[name] = wrapper(original);
    this.#undo.push(() => {
      if (own) target[name] = previous;
      else delete target[name];
    });
  }

  undo(): void {
    for (const undo of this.#undo.reverse()) undo();
    this.#undo.length = 0;
  }
}

/**
 * One ordinary forward on a copy of the inputs, its GPU commands recorded. Returns the forward's
 * features (new tensors copied from the recorded outputs when it is kept, so that a replay never
 * writes a tensor the caller holds) and the recording, or why it was refused.
 */
function capture<I, F>(backend: TfjsWebgpuBackend, x: I, inputs: readonly Tensor[], forward: (x: I) => F, resident: readonly Tensor[]): Captured<F> {
  const manager = backend.bufferManager;
  const guard = poolGuard(manager);
  const ordinary = (why: string, passing = false): Captured<F> => ({ refused: why, passing, features: forward(x) });
  if (tf.env().getBool("WEBGPU_ENGINE_COMPILE_ONLY")) return ordinary("tfjs compiles its pipelines in parallel (WEBGPU_ENGINE_COMPILE_ONLY)", true);
  if (backend.activeTimers != null) return ordinary("tfjs times its programs (tf.time or tf.profile)", true);
  if (guard.capturing !== undefined) return ordinary("another capture is in progress (an extractor run inside another's forward)", true);
  for (const t of resident) if (!t.isDisposed) backend.uploadToGPU(t.dataId as DataId);
  // The inputs, copied into buffers the recording owns: its commands read those.
  const sources = inputs.map((t) => gpuBuffer(backend, t));
  if (sources.some((s) => s === undefined)) return ordinary("an input is not in a GPU buffer");
  flush(backend);
  const clonedInputs = inputs.map((t) => ({ buffer: privateBuffer(backend, bytesOf(t.shape), TENSOR_USAGE), bytes: bytesOf(t.shape) }));
  const encoder = backend.device.createCommandEncoder();
  clonedInputs.forEach((c, i) => c.bytes > 0 && encoder.copyBufferToBuffer(sources[i]!, 0, c.buffer, 0, c.bytes));
  backend.queue.submit([encoder.finish()]);
  const clones = inputs.map((t, i) => {
    const info = backend.makeTensorInfo([...t.shape], t.dtype);
    const data = backend.tensorMap.get(info.dataId as DataId);
    data.resource = clonedInputs[i]!.buffer;
    // tfjs never pools an external buffer: the recording keeps it.
    data.external = true;
    return tf.engine().makeTensorFromTensorInfo(info);
  });
  const cloned = (Array.isArray(x) ? clones : clones[0]) as I;

  const commands: Command[] = [];
  const owned = new Set<GpuBuffer>(clonedInputs.map((c) => c.buffer));
  const bindings = new WeakMap<object, readonly GpuBuffer[]>();
  const touched = new Set<GpuBuffer>();
  let refusal: string | undefined;
  const refuse = (why: string): void => {
    refusal ??= why;
  };
  let uploading = false;
  const wrapped = new WeakSet<object>();
  const patches = new Patches();
  const keptUniforms = new Set<GpuBuffer>();

  const watchEncoder = (encoder: GpuCommandEncoder): void => {
    if (wrapped.has(encoder)) return;
    wrapped.add(encoder);
    patches.wrap(encoder, "copyBufferToBuffer", (original) => (source, sourceOffset, destination, destinationOffset, size) => {
      // An upload's staging copy is recorded as the upload (the staging buffer is destroyed after the submit).
      if (!uploading) {
        commands.push({ kind: "copy", source, sourceOffset, destination, destinationOffset, size });
        touched.add(source).add(destination);
      }
      original(source, sourceOffset, destination, destinationOffset, size);
    });
    for (const name of ["copyBufferToTexture", "copyTextureToBuffer", "copyTextureToTexture", "beginRenderPass", "resolveQuerySet", "clearBuffer", "writeTimestamp"]) {
      const target = encoder as unknown as Record<string, unknown>;
      if (typeof target[name] !== "function") continue;
      patches.wrap(target, name, (original) => (...args: unknown[]) => {
        refuse(`tfjs encoded a ${name} (textures, timers)`);
        return (original as (...a: unknown[]) => unknown)(...args);
      });
    }
    patches.wrap(encoder, "beginComputePass", (original) => (descriptor) => {
      const pass = original(descriptor);
      let pipeline: object | undefined;
      let bindGroup: object | undefined;
      patches.wrap(pass, "setPipeline", (set) => (p) => set((pipeline = p)));
      patches.wrap(pass, "setBindGroup", (set) => (index, group) => {
        if (index !== 0) refuse("a program bound a second bind group");
        set(index, (bindGroup = group));
      });
      patches.wrap(pass, "dispatchWorkgroups", (dispatch) => (wx, wy = 1, wz = 1) => {
        if (pipeline === undefined || bindGroup === undefined) refuse("a dispatch without a pipeline or bind group");
        else {
          commands.push({ kind: "dispatch", pipeline, bindGroup, workgroups: [wx, wy, wz] });
          for (const b of bindings.get(bindGroup) ?? []) touched.add(b);
        }
        dispatch(wx, wy, wz);
      });
      return pass;
    });
  };

  patches.wrap(backend.device, "createBindGroup", (original) => (descriptor) => {
    const group = original(descriptor);
    const buffers: GpuBuffer[] = [];
    for (const entry of descriptor.entries) {
      const buffer = "buffer" in entry.resource ? entry.resource.buffer : undefined;
      if (buffer === undefined) refuse("a program binds a texture");
      else buffers.push(buffer);
    }
    bindings.set(group, buffers);
    return group;
  });
  patches.wrap(backend.queue, "writeBuffer", (original) => (buffer, offset, data, dataOffset, size) => {
    // tfjs writes uniforms from the CPU as it encodes a program; they stay in the recording's buffers. Anything else written so would not be replayed.
    if ((buffer.usage & UNIFORM) === 0) refuse("a storage buffer was written from the CPU (queue.writeBuffer)");
    original(buffer, offset, data, dataOffset, size);
  });
  patches.wrap(backend, "ensureCommandEncoderReady", (original) => () => {
    original();
    if (backend.commandEncoder !== null) watchEncoder(backend.commandEncoder);
  });
  patches.wrap(backend, "uploadToGPU", (original) => (dataId) => {
    const data = backend.tensorMap.get(dataId);
    const values = data.resource == null ? data.values : null;
    uploading = true;
    try {
      original(dataId);
    } finally {
      uploading = false;
    }
    if (values == null || values.length === 0) return;
    // The constant's values in a buffer of the recording's, copied at this position on every replay.
    const bytes = data.dtype === "int32" || data.dtype === "bool" ? Int32Array.from(values) : Float32Array.from(values);
    const source = privateBuffer(backend, bytes.byteLength, COPY_SRC | MAP_WRITE, true);
    new Uint8Array(source.getMappedRange()).set(new Uint8Array(bytes.buffer));
    source.unmap();
    owned.add(source);
    const destination = data.resource as GpuBuffer;
    commands.push({ kind: "copy", source, sourceOffset: 0, destination, destinationOffset: 0, size: bytes.byteLength });
    touched.add(destination);
  });
  const readBack = (original: (...a: never[]) => unknown) => (dataId: DataId) => {
    if (backend.tensorMap.has(dataId) && backend.tensorMap.get(dataId).values == null) refuse("the forward reads a tensor back from the GPU (a data-dependent program)");
    return (original as (d: DataId) => unknown)(dataId);
  };
  patches.wrap(backend as unknown as { read: (d: DataId) => unknown }, "read", readBack);
  patches.wrap(backend as unknown as { readSync: (d: DataId) => unknown }, "readSync", readBack);
  const random = Math.random;
  Math.random = () => {
    refuse("the forward draws random numbers (dropout in train mode)");
    return random();
  };

  let features: F;
  guard.capturing = keptUniforms;
  try {
    flush(backend);
    try {
      features = forward(cloned);
    } finally {
      flush(backend);
      patches.undo();
      Math.random = random;
      guard.capturing = undefined;
    }
  } catch (error) {
    giveUp(backend, owned, keptUniforms, clones);
    throw error;
  }

  const tensors: Tensor[] = [];
  const template = templateOf(features, tensors);
  const outputs: RecordedOutput[] = [];
  for (const t of tensors) {
    const resource = t.isDisposed ? null : backend.tensorMap.get(t.dataId as DataId).resource;
    if (resource === null || !("usage" in resource)) {
      refuse("an output is not in a GPU buffer");
      break;
    }
    outputs.push({ buffer: resource as GpuBuffer, shape: [...t.shape], dtype: t.dtype, bytes: bytesOf(t.shape) });
    touched.add(resource as GpuBuffer);
  }
  if (commands.length === 0) refuse("the forward encoded no GPU work");
  if (refusal !== undefined) {
    // The ordinary forward's features are the caller's as they are, but for an input returned as it is: its copy goes with the capture's buffers.
    if (tensors.some((t) => clones.includes(t))) {
      const encoder = backend.device.createCommandEncoder();
      const kept = tensors.map((t) => (clones.includes(t) ? copiedTensor(backend, encoder, clonedInputs[clones.indexOf(t)]!.buffer, [...t.shape], t.dtype, bytesOf(t.shape)) : t));
      backend.queue.submit([encoder.finish()]);
      giveUp(backend, owned, keptUniforms, clones);
      return { refused: refusal, features: fill(template, kept) as F };
    }
    giveUp(backend, owned, keptUniforms, clones);
    return { refused: refusal, features };
  }

  for (const buffer of keptUniforms) owned.add(buffer);
  const claimed = new Set<GpuBuffer>();
  const recording = new Recording(backend, clonedInputs, commands, outputs, template, owned, claimed);
  // The recording's buffers out of tfjs's pool: those it released during the capture now (before the
  // caller's copies below take buffers from the pool), its outputs once they are disposed.
  const adopt = (): void => {
    for (const buffer of touched) {
      if (owned.has(buffer) || claimed.has(buffer)) continue;
      if (withdraw(manager, buffer)) owned.add(buffer);
      else if (guard.claims.has(buffer) || holds(manager, buffer)) {
        // Held by tfjs, or claimed by another recording (a constant tensor two extractors read).
        claimed.add(buffer);
        if (!guard.claims.has(buffer)) guard.claims.set(buffer, new Set());
        guard.claims.get(buffer)!.add(recording);
      }
    }
  };
  adopt();
  // The caller's features are copies: the recorded outputs are written again by every replay.
  const copyEncoder = backend.device.createCommandEncoder();
  const copies = outputs.map((o) => copiedTensor(backend, copyEncoder, o.buffer, o.shape, o.dtype, o.bytes));
  backend.queue.submit([copyEncoder.finish()]);
  // Kept out of tfjs's pool as they are released: the outputs' buffers were claimed above.
  tf.dispose([...tensors, ...clones]);
  flush(backend);
  return { recording, features: fill(template, copies) as F };
}

/** Undoes a refused capture: its private buffers destroyed, the uniforms it kept back given to tfjs's pool, its input copies disposed. */
function giveUp(backend: TfjsWebgpuBackend, owned: Set<GpuBuffer>, keptUniforms: Set<GpuBuffer>, clones: readonly Tensor[]): void {
  tf.dispose([...clones]);
  for (const buffer of keptUniforms) restore(backend.bufferManager, buffer);
  // Queued work may still read them; WebGPU defers destruction until it is done.
  for (const buffer of owned) destroyPrivate(backend, buffer);
}
