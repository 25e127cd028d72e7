import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { join } from "node:path";
import { getModel, listModels } from "../models/zoo/registry.js";
import { parameterCount } from "../compiler/cli/commands/models.js";
import { FIXTURES } from "./support/fixtures.js";

/**
 * torchvision's checkpoints load into fxc's modules: every zoo model listed in
 * fixtures/state_dicts/<family>.json.gz (written by make_state_dicts.py) has torchvision's
 * state_dict keys, in torchvision's order, with torchvision's shapes, and `fxc models`
 * counts the parameters its weights document (`meta["num_params"]`).
 */
type Reference = Record<string, { numParams: number; stateDict: [string, number[]][] }>;

const folder = join(FIXTURES, "state_dicts");
const zoo = new Set(listModels());

for (const file of readdirSync(folder).filter((f) => f.endsWith(".json.gz"))) {
  const reference = JSON.parse(gunzipSync(readFileSync(join(folder, file))).toString("utf8")) as Reference;
  for (const [name, expected] of Object.entries(reference)) {
    test(`${name}: state_dict keys and shapes equal torchvision's; ${expected.numParams} parameters`, () => {
      assert.ok(zoo.has(name), `${name} is not in the zoo`);
      const ours = getModel(name).stateDictShapes().map(([k, s]) => [k, [...s]]);
      assert.deepEqual(ours, expected.stateDict);
      assert.equal(parameterCount(name), expected.numParams);
    });
  }
}
