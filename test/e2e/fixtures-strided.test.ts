import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { openWeights, tf } from "../../runtime/index.js";
import { FIXTURES, caseErrors, fixtureCases, strideRowsAndColumns } from "../support/fixtures.js";

// A case's `strided` outputs are stored as numpy's out[..., ::s, ::s] (make_fixtures.py); fxc's
// output must be strided the same way before the comparison, or the check proves nothing.

test("strideRowsAndColumns keeps every step-th row and column of each plane, as numpy's a[..., ::s, ::s]", () => {
  const [n, c, h, w] = [2, 3, 5, 7];
  const data = Float32Array.from({ length: n * c * h * w }, (_, i) => i);
  const got = strideRowsAndColumns(data, [n, c, h, w], 4);
  const want: number[] = [];
  for (let plane = 0; plane < n * c; plane++) for (const y of [0, 4]) for (const x of [0, 4]) want.push((plane * h + y) * w + x);
  assert.deepEqual([...got], want);
  assert.deepEqual([...strideRowsAndColumns(data, [n, c, h, w], 1)], [...data]);
  assert.throws(() => strideRowsAndColumns(data, [n * c, h, w], 2), /must be \[N, C, H, W\], not \[6, 5, 7\]/);
});

const stridedCases = fixtureCases((c) => c.strided !== undefined);

test("strided fixture outputs are stored at ceil(H/s) x ceil(W/s), the rest of their shape whole", async () => {
  assert.ok(stridedCases.length > 0, "the 800x1216 FPN case stores its finest level strided");
  for (const c of stridedCases) {
    const expected = await openWeights(join(FIXTURES, "cases", c.id, "expected.safetensors"));
    try {
      for (const [key, step] of Object.entries(c.strided!)) {
        const [n, ch, h, w] = c.outputs[key]!;
        assert.deepEqual(expected.info(key)?.shape, [n, ch, Math.ceil(h! / step), Math.ceil(w! / step)], `${c.id} ${key}`);
      }
    } finally {
      await expected.close();
    }
  }
});

test("caseErrors compares a strided output at the stored positions only, and sees an error there", async () => {
  const c = stridedCases[0]!;
  const [key, step] = Object.entries(c.strided!)[0]!;
  const shape = c.outputs[key]! as [number, number, number, number];
  const expected = await openWeights(join(FIXTURES, "cases", c.id, "expected.safetensors"));
  const stored = await expected.readFloat32(key);
  await expected.close();
  // A full-size output equal to the reference where it is stored, and far off everywhere else.
  const [n, ch, h, w] = shape;
  const full = new Float32Array(n * ch * h * w).fill(1e6);
  let i = 0;
  for (let plane = 0; plane < n * ch; plane++) for (let y = 0; y < h; y += step) for (let x = 0; x < w; x += step) full[(plane * h + y) * w + x] = stored[i++]!;
  const output = tf.tensor4d(full, shape);
  assert.deepEqual(await caseErrors({ ...c, strided: { [key]: step } }, { [key]: output }), { [key]: 0 });
  full[step * w + step] = stored[Math.ceil(w / step) + 1]! + 1; // row `step`, column `step`: a stored position
  const off = tf.tensor4d(full, shape);
  const errors = await caseErrors(c, { [key]: off });
  tf.dispose([output, off]);
  assert.ok(errors[key]! > 1e-4, `an error at a stored position is seen: ${errors[key]}`);
});
