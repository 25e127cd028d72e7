import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type * as Ort from "onnxruntime-node";
import { createFeatureExtractor } from "../../compiler/api.js";
import { interpret } from "../../compiler/interpret/interpreter.js";
import { Conv2d, Module, type Tensor } from "../../models/nn/index.js";
import { OnnxProgram, onnxRuntime, type HostArray } from "../../runtime/onnx/engine.js";
import { prepareParams } from "../../runtime/params.js";
import { seededWeights } from "../support/seeded.js";
import { tempDir } from "../support/temp.js";
import { opTypes } from "../support/onnxModel.js";
import { buildGraph } from "../../runtime/onnx/engine.js";
import { tf } from "../../runtime/index.js";

/**
 * How the ONNX engine hands the weights to ONNX Runtime (issue #10, peak RSS): the model goes
 * through a temporary file written from the host weights, and those are freed before ONNX Runtime
 * reads it, so that no serialized copy and no host copy live beside ONNX Runtime's own.
 */

class Wide extends Module {
  conv = new Conv2d(64, 64, 3);
  forward(x: Tensor): Tensor {
    return this.conv.call(x).relu();
  }
}

interface Created {
  /** What InferenceSession.create was given: a path or the model's bytes. */
  readonly model: string | Uint8Array;
  readonly options: Ort.InferenceSession.SessionOptions;
  /** Whether the model file was there when ONNX Runtime was asked to read it. */
  readonly fileExisted: boolean;
  /** Whether every host weight array was already freed (its WeakRef cleared) then. */
  readonly hostFreed: boolean;
  /** The model's node types, in order. */
  readonly ops: readonly string[];
  /** The sizes of the model file and of the external weights file beside it (0 where none). */
  readonly modelBytes: number;
  readonly weightsBytes: number;
}

const fileSize = (path: string): number => (existsSync(path) ? statSync(path).size : 0);

/** ONNX Runtime, with InferenceSession.create recording how it was called. */
function recordingRuntime(ort: typeof Ort, weakWeights: readonly WeakRef<Float32Array>[], created: Created[]): typeof Ort {
  const create = (model: string | Uint8Array, options: Ort.InferenceSession.SessionOptions): Promise<Ort.InferenceSession> => {
    const fileExisted = typeof model === "string" && existsSync(model);
    const ops = opTypes(typeof model === "string" ? (fileExisted ? readFileSync(model) : new Uint8Array()) : model);
    const [modelBytes, weightsBytes] = typeof model === "string" ? [fileSize(model), fileSize(join(dirname(model), "weights.bin"))] : [model.byteLength, 0];
    created.push({ model, options, fileExisted, hostFreed: weakWeights.every((w) => w.deref() === undefined), ops, modelBytes, weightsBytes });
    return ort.InferenceSession.create(model as string, options);
  };
  return { ...ort, InferenceSession: { ...ort.InferenceSession, create } } as unknown as typeof Ort;
}

/** The program over weights only it holds (the caller gets WeakRefs to their arrays). */
async function programOwningWeights(created: Created[]): Promise<OnnxProgram> {
  const model = new Wide();
  const fx = createFeatureExtractor(model, { inputShapes: [["N", 64, 8, 8]], returnNodes: ["relu"], suppressDiffWarning: true });
  const host = await prepareParams(seededWeights(model, 1), fx.program.checkpoint, fx.program.params);
  // The arrays as read: a filter's permuted copy (HostTensor.permutationOf) is never made on this engine.
  const weak = Object.values(host).map((p) => new WeakRef(p.permutationOf?.values ?? p.values));
  return new OnnxProgram(recordingRuntime(await onnxRuntime(), weak, created), interpret(fx.program) as never, host);
}

const input = (batch: number): HostArray => ({ data: Float32Array.from({ length: batch * 8 * 8 * 64 }, (_, i) => Math.sin(i)), shape: [batch, 8, 8, 64] });

/** The program's output at batch 2 equals the graph's without the engine's own rewriting, as ONNX Runtime runs it. */
async function runsBatchOfTwo(program: OnnxProgram): Promise<void> {
  const { relu } = (await program.run(input(2))) as { relu: HostArray };
  assert.deepEqual(relu.shape, [2, 6, 6, 64]);
  const model = new Wide();
  const fx = createFeatureExtractor(model, { inputShapes: [["N", 64, 8, 8]], returnNodes: ["relu"], suppressDiffWarning: true });
  const host = await prepareParams(seededWeights(model, 1), fx.program.checkpoint, fx.program.params);
  const { graph, input: graphInput, tensors } = buildGraph(interpret(fx.program) as never, host, [2, 8, 8, 64]);
  const ort = await onnxRuntime();
  const session = await ort.InferenceSession.create(graph.serialize([graphInput], tensors, "test"));
  try {
    const x = input(2);
    const expected = (await session.run({ input: new ort.Tensor("float32", x.data, [...x.shape]) }))[tensors[0]!.name]!.data as Float32Array;
    assert.ok(expected.some((v) => v > 0));
    assert.deepEqual([...relu.data], [...expected]);
  } finally {
    await session.release();
  }
}

test("ONNX Runtime reads the model from a temporary file, its filter in a weights file beside it (external data, which it maps), removed afterwards, with the host weights already freed, the filter's transpose done, and no memory pattern", async () => {
  const created: Created[] = [];
  const program = await programOwningWeights(created);
  try {
    assert.equal(await program.prepare([8, 8, 64]), true);
    assert.equal(created.length, 1);
    const [session] = created as [Created];
    assert.equal(typeof session.model, "string", "a path, not the model's bytes in memory");
    assert.ok(session.fileExisted);
    assert.ok(session.hostFreed, "the host weights were freed before ONNX Runtime read the model");
    assert.ok(!existsSync(session.model as string), "the temporary file is removed once the session is made");
    // The 64x64x3x3 filter (147,456 bytes) is external data, at an offset ONNX Runtime can map; the graph stays small.
    assert.ok(session.weightsBytes >= 64 * 64 * 9 * 4, `weights.bin holds ${session.weightsBytes} bytes`);
    assert.ok(session.modelBytes < 4096, `model.onnx holds ${session.modelBytes} bytes`);
    assert.equal(session.options.enableMemPattern, false);
    // The input's and the output's layout moves only: the filter is written in ONNX's layout, not transposed by a node.
    assert.deepEqual(session.ops, ["Identity", "Transpose", "Conv", "Relu", "Transpose"]);
    await runsBatchOfTwo(program);
  } finally {
    await program.release();
  }
});

test("where no temporary file can be written, the model's bytes are handed over in memory", async () => {
  const notAFolder = join(await tempDir("engine-memory"), "file");
  await writeFile(notAFolder, "");
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = notAFolder;
  const created: Created[] = [];
  try {
    const program = await programOwningWeights(created);
    try {
      assert.equal(await program.prepare([8, 8, 64]), true);
      assert.ok(created[0]!.model instanceof Uint8Array);
      await runsBatchOfTwo(program);
    } finally {
      await program.release();
    }
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
});

test("onnxruntime's results are held by tfjs's cpu backend as they came, and move to the backend in use when an op reads them", async () => {
  const model = new Wide();
  const fx = createFeatureExtractor(model, { inputShapes: [["N", 64, 8, 8]], returnNodes: ["relu"], suppressDiffWarning: true });
  const onnx = await fx.load(seededWeights(model, 1), { engine: "onnxruntime" });
  const reference = await fx.load(seededWeights(model, 1), { engine: "tfjs" });
  const x = tf.tensor4d(input(2).data, [2, 8, 8, 64]);
  try {
    const { relu } = (await onnx.run(x)) as { relu: tf.Tensor };
    const { relu: expected } = (await reference.run(x)) as { relu: tf.Tensor };
    const holder = (t: tf.Tensor): unknown => (tf.engine().state.tensorInfo as unknown as { get(id: object): { backend: unknown } }).get(t.dataId)!.backend;
    assert.equal(holder(relu), tf.findBackend("cpu"), "not copied into the backend in use");
    const doubled = tf.mul(relu, 2);
    assert.equal(holder(doubled), tf.findBackend(tf.getBackend()));
    const [got, want] = [(await doubled.data()) as Float32Array, (await expected.data()) as Float32Array];
    want.forEach((v, i) => assert.ok(Math.abs(got[i]! - 2 * v) <= 1e-4 * (1 + Math.abs(v)), `value ${i}: ${got[i]} vs 2 x ${v}`));
    tf.dispose([relu, expected, doubled]);
  } finally {
    x.dispose();
    onnx.dispose();
    reference.dispose();
  }
});
