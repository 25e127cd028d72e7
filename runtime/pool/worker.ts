import { parentPort, workerData } from "node:worker_threads";
import { tf } from "../ops/tf.js";
import { engineReport, type CompiledModule } from "../extractor.js";
import { threadFailure } from "../errors.js";
import type { FromWorker, TensorMessage, ToWorker, WorkerSetup } from "./messages.js";

/** One pool worker: its own tfjs backend and its own copy of the weights. */

const port = parentPort!;
const send = (m: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);
const setup = workerData as WorkerSetup;

try {
  const compiled = (await import(setup.moduleUrl)) as CompiledModule;
  const extractor = await compiled.load(setup.weights, { ...setup.options, onWarning: (warning) => send({ warning }) });
  port.on("message", async (m: ToWorker) => {
    if ("close" in m) {
      extractor.dispose();
      port.close();
      return;
    }
    try {
      const x = tf.tensor4d(m.input.data, m.input.shape as [number, number, number, number]);
      const outputs = await extractor.run(x);
      x.dispose();
      const result = Object.create(null) as Record<string, TensorMessage>;
      for (const [key, t] of Object.entries(outputs)) {
        result[key] = { shape: [...t.shape], data: (await t.data()) as Float32Array };
        t.dispose();
      }
      send({ id: m.id, outputs: result }, Object.values(result).map((r) => r.data.buffer as ArrayBuffer));
    } catch (e) {
      send({ id: m.id, error: threadFailure(e) });
    }
  });
  send({ ready: true, ...engineReport(extractor) });
} catch (e) {
  send({ error: threadFailure(e) });
}
