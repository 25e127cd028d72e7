import type { Argv } from "yargs";
import { getModelEntry, listModels } from "../../../models/zoo/registry.js";

interface ModelsArgs {
  json: boolean;
}

/** Parameters (not buffers), counted from shapes: building a model allocates no weights. */
export function parameterCount(name: string): number {
  return getModelEntry(name).build().parameterCount();
}

export function modelsCommand(cli: Argv): Argv {
  return cli.command<ModelsArgs>(
    "models",
    "List the model zoo with parameter counts and input sizes",
    (y) => y.option("json", { type: "boolean", default: false, describe: "Print JSON" }) as Argv<ModelsArgs>,
    (args) => {
      const rows = listModels().map((name) => {
        const e = getModelEntry(name);
        return { name, family: e.family, parameters: parameterCount(name), inputSize: e.inputSize, resize: e.preset.resizeSize };
      });
      if (args.json) {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      const table = [["model", "family", "params", "input", "resize"], ...rows.map((r) => [r.name, r.family, formatCount(r.parameters), String(r.inputSize), String(r.resize)])];
      const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
      for (const row of table) process.stdout.write(`${row.map((cell, i) => (i === 2 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join("  ").trimEnd()}\n`);
    },
  );
}

function formatCount(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : `${(n / 1e3).toFixed(1)}K`;
}
