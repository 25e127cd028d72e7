import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { openPth } from "../../runtime/weights/pth.js";
import { WeightsError, type TensorSource } from "../../runtime/weights/types.js";
import { assertSameFloats, expected, fixture, rejectsOneLine, type ExpectedTensor } from "../weights-fixtures.js";

async function assertMatches(
  source: TensorSource,
  tensors: Record<string, ExpectedTensor>,
  keys: string[],
): Promise<void> {
  assert.deepEqual(source.keys(), keys);
  for (const key of keys) {
    const want = tensors[key]!;
    const info = source.info(key);
    assert.deepEqual(info, { key, dtype: want.dtype, shape: want.shape }, key);
    assertSameFloats(await source.readFloat32(key), want.bits, key);
  }
}

for (const name of ["zip.pth", "zip_p4.pth", "zip64.pth", "legacy.pth"]) {
  describe(`openPth ${name}`, () => {
    test("reads every tensor with its dtype, shape and values, keys in file order", async () => {
      const source = await openPth(fixture(name));
      try {
        assert.equal(source.format, "pth");
        assert.equal(source.path, fixture(name));
        await assertMatches(source, expected.basic, expected.basic_keys);
      } finally {
        await source.close();
      }
    });

    test("non-contiguous views and shared storages come out in row-major order", async () => {
      const source = await openPth(fixture(name));
      try {
        // Values known independently of the expectations file: shared_* view arange(12).
        assert.deepEqual([...(await source.readFloat32("shared_a"))], [2, 3, 4, 5, 6, 7]);
        assert.deepEqual([...(await source.readFloat32("shared_b"))], [5, 6, 7, 8, 9, 10, 11]);
        assert.deepEqual(source.info("transposed")?.shape, [4, 3]);
        assert.deepEqual(source.info("empty")?.shape, [0, 3]);
        assert.equal((await source.readFloat32("empty")).length, 0);
        assert.deepEqual([...(await source.readFloat32("scalar"))], [3.5]);
        // Concurrent reads of tensors sharing a storage.
        const [a, b] = await Promise.all([source.readFloat32("shared_a"), source.readFloat32("shared_b")]);
        assert.equal(a[3], b[0]);
      } finally {
        await source.close();
      }
    });

    test("a key that is not there: info is undefined, readFloat32 rejects with one line", async () => {
      const source = await openPth(fixture(name));
      try {
        assert.equal(source.info("nope"), undefined);
        const error = await rejectsOneLine(source.readFloat32("nope"), /no tensor named 'nope'/, /zip|legacy|\.pth/);
        assert.ok(error instanceof WeightsError);
      } finally {
        await source.close();
      }
    });
  });
}

test("legacy checkpoints with storage views (torch < 1.6 style) honour the view offset", async () => {
  const source = await openPth(fixture("legacy_view.pth"));
  try {
    await assertMatches(source, expected.legacy_view, ["view_tensor", "root_tensor"]);
  } finally {
    await source.close();
  }
});

test("a training checkpoint dict: the state_dict under 'model' is found, the rest is never run", async () => {
  const source = await openPth(fixture("checkpoint.pth"));
  try {
    await assertMatches(source, expected.checkpoint, expected.checkpoint_keys);
  } finally {
    await source.close();
  }
});

test("a state_dict under 'state_dict', saved with keep_vars=True (nn.Parameter objects)", async () => {
  const source = await openPth(fixture("state_dict_key.pth"));
  try {
    await assertMatches(source, expected.checkpoint, expected.checkpoint_keys);
  } finally {
    await source.close();
  }
});

test("reading after close is a one-line error", async () => {
  const source = await openPth(fixture("zip.pth"));
  await source.close();
  await source.close(); // idempotent
  await rejectsOneLine(source.readFloat32("bn.weight"), /closed/);
});

describe("refusals", () => {
  test("a pickled whole nn.Module says to save the state_dict", async () => {
    await rejectsOneLine(
      openPth(fixture("module.pth")),
      /module\.pth/,
      /torch\.nn\.modules\.linear\.Linear/,
      /model\.state_dict\(\)/,
    );
  });

  test("a TorchScript archive is recognised as such", async () => {
    await rejectsOneLine(openPth(fixture("torchscript.pt")), /TorchScript archive/, /model\.state_dict\(\)/);
  });

  test("a whole module under 'model' says the same", async () => {
    await rejectsOneLine(openPth(fixture("model_module.pth")), /'model' entry/, /Linear/, /state_dict\(\)/);
  });

  test("a non-tensor entry in the state_dict names the key and what it holds", async () => {
    await rejectsOneLine(openPth(fixture("bad_entry.pth")), /'step'/, /int 5/, /not a tensor/);
  });

  test("a single tensor is not a state_dict", async () => {
    await rejectsOneLine(openPth(fixture("tensor.pth")), /single tensor/);
  });

  test("a dict without tensors or model/state_dict lists its keys", async () => {
    await rejectsOneLine(openPth(fixture("no_state_dict.pth")), /'epoch', 'net'/, /'model' or 'state_dict'/);
  });

  test("a missing file names the path", async () => {
    await rejectsOneLine(openPth(fixture("does-not-exist.pth")), /does-not-exist\.pth/, /not found/);
  });
});
