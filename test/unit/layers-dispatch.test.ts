import { test } from "node:test";
import assert from "node:assert/strict";
import { getGraphNodeNames } from "../../compiler/api.js";
import { trace } from "../../compiler/trace/tracer.js";
import { withDispatcher, type Dispatcher } from "../../models/nn/dispatch.js";
import { TRACED, type Tensor } from "../../models/nn/tensor.js";
import { Conv2d, F, Module, Parameter, ReLU } from "../../models/nn/index.js";

/** A stand-in for the tracer: what the module library asks of it, as a log. */
function recordingDispatcher(): { dispatcher: Dispatcher; log: string[] } {
  const log: string[] = [];
  const value = { [TRACED]: true } as unknown as Tensor;
  const dispatcher: Dispatcher = {
    callModule: (m, args) => (log.push(`module ${m.typeName}/${args.length}`), value),
    callFunction: (target, args, kwargs) => (log.push(`function ${target}/${args.length}/${Object.keys(kwargs).join(",")}`), value),
    callMethod: (target, args) => (log.push(`method ${target}/${args.length}`), value),
    readAttribute: (t) => (log.push(`attribute ${t.shape.join("x")}`), value),
    callWrapped: (name, _fn, args) => (log.push(`wrapped ${name}/${args.length}`), value),
    callUserOp: (op, inputs) => (log.push(`userOp ${op.name}/${inputs.length}`), value),
    markTorchOrder: () => void log.push("torchOrder"),
  };
  return { dispatcher, log };
}

test("modules and F go through the installed dispatcher, and name no tracer", () => {
  const { dispatcher, log } = recordingDispatcher();
  const x = { [TRACED]: true } as unknown as Tensor;
  const table = new Parameter([4, 2]);
  const double = F.wrap((t: Tensor) => F.mul(t, 2), "double");
  withDispatcher(dispatcher, () => {
    new ReLU().call(x);
    F.relu(x);
    F.interpolate(x, { scale_factor: 2 });
    F.expand(table, 3, -1);
    F.get_attr(table);
    double(x);
    F.torchOrder(x);
    F.floordiv(x, 2);
  });
  assert.deepEqual(log, [
    "module ReLU/1",
    "function relu/2/",
    "function interpolate/1/scale_factor",
    "method expand/3",
    "attribute 4x2",
    "wrapped double/1",
    "torchOrder",
    "function floordiv/2/",
  ]);
});

test("outside tracing, a module or an F function fails naming how models run", () => {
  const x = { [TRACED]: true } as unknown as Tensor;
  assert.throws(() => new ReLU().call(x), /^Error: cannot call a module outside tracing: fxc models are run by compiling them \(trace, createFeatureExtractor, compile\)$/);
  assert.throws(() => F.relu(x), /^Error: cannot call relu\(\) outside tracing/);
});

test("Python operators and wrapped functions on plain values compute without a dispatcher", () => {
  assert.equal(F.floordiv(7, 2), 3);
  assert.equal(F.floordiv(-7, 2), -4, "Python's floor division rounds down");
  assert.equal(F.eq(3, 3), true);
  assert.equal(F.eq(3, 4), false);
  assert.equal(F.wrap((a: number, b: number) => a + b, "plus")(1, 2), 3);
  assert.doesNotThrow(() => F._assert(true, "never"));
  assert.throws(() => F._assert(false, "Wrong image height!"), /^Error: Wrong image height!$/);
});

class Failing extends Module {
  conv = new Conv2d(3, 4, 3);
  forward(x: Tensor): Tensor {
    const y = this.conv.call(x);
    throw new RangeError(`no ${String(y.staticShape)}`);
  }
}

test("the tracer installs itself for a trace and removes itself after, also when forward throws", () => {
  const model = new Failing();
  assert.throws(() => trace(model, { inputShape: ["N", 3, 8, 8] }), /no N,4,6,6 at .*layers-dispatch\.test\.ts/);
  assert.throws(() => model.conv.call({ [TRACED]: true } as unknown as Tensor), /outside tracing/);
  // A nested trace (the leaves' bodies) restores the outer tracer: node names still come out whole.
  assert.deepEqual(getGraphNodeNames("resnet18").eval.slice(0, 3), ["x", "conv1", "bn1"]);
  assert.throws(() => model.conv.call({ [TRACED]: true } as unknown as Tensor), /outside tracing/);
});
