/**
 * `npm run bench`: images/s and peak memory of compiled extractors on each available tfjs
 * backend, and, where /usr/bin/python3 has torchvision, torchvision's create_feature_extractor
 * on the same task in the same run, with the ratio.
 *
 * With several cores, wasm is also measured on a pool of worker threads, one per core.
 *
 * Then image preprocessing: a 12-megapixel JPEG decoded (sharp) and preprocessed (Pillow's resize on worker threads) to resnet50's and
 * swin_t's presets, one image at a time and several in flight, as extraction's prefetching runs it.
 *
 * Options: --backends wasm,cpu   --runs N   --torch-runs N (default 1: Debian's torch is slow)   --models resnet50,vit_b_16
 *          --images N (default 8; 0 skips preprocessing)
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { createFeatureExtractor } from "../../compiler/api.js";
import { getModel, listModels } from "../../models/zoo/registry.js";
import { availableBackends, createExtractorPool, tf, type BackendName } from "../../runtime/index.js";
import { compile } from "../../compiler/api.js";
import { cacheCompiled } from "../../compiler/cli/cache.js";
import { writeSafetensors } from "../../runtime/weights/safetensors.js";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir, availableParallelism } from "node:os";
import { seededWeights } from "../support/seeded.js";
import { loadSharp } from "../../runtime/images/decode.js";
import { preprocess } from "../../runtime/images/preprocess.js";
import { resolvePreprocessing } from "../../compiler/tasks/loader.js";

interface Row {
  readonly model: string;
  readonly returnNodes: readonly string[];
  readonly batch: number;
  readonly size: number;
  readonly label: string;
}

const ROWS: readonly Row[] = [
  { model: "resnet50", returnNodes: ["layer1", "layer2", "layer3", "layer4"], batch: 8, size: 224, label: "resnet50 layer1-4" },
  { model: "vit_b_16", returnNodes: ["encoder"], batch: 8, size: 224, label: "vit_b_16 encoder" },
];

interface Measure {
  readonly imagesPerSecond: number;
  readonly secondsPerRun: number;
  readonly peakTensorMB: number;
}

async function measure(row: Row, backend: BackendName, runs: number): Promise<Measure> {
  const model = getModel(row.model);
  const fx = createFeatureExtractor(model, { returnNodes: row.returnNodes, size: row.size });
  const extractor = await fx.load(seededWeights(model, 1), { backend });
  try {
    const x = tf.randomNormal([row.batch, row.size, row.size, 3]) as tf.Tensor4D;
    tf.dispose(Object.values(extractor.forward(x))); // warm-up: kernels compile, buffers settle
    let peak = 0;
    const start = performance.now();
    for (let i = 0; i < runs; i++) {
      const info = await tf.profile(() => extractor.forward(x));
      peak = Math.max(peak, info.peakBytes);
      tf.dispose(info.result as tf.TensorContainer);
    }
    const secondsPerRun = (performance.now() - start) / 1000 / runs;
    x.dispose();
    return { imagesPerSecond: row.batch / secondsPerRun, secondsPerRun, peakTensorMB: peak / 2 ** 20 };
  } finally {
    extractor.dispose();
  }
}

/** The same task spread over worker threads (one backend and one copy of the weights each). */
async function measurePool(row: Row, backend: BackendName, runs: number, workers: number): Promise<Measure> {
  const model = getModel(row.model);
  const dir = await mkdtemp(join(tmpdir(), "fxc-bench-"));
  try {
    // Workers read weights from a file, as users' do.
    const seeded = seededWeights(model, 1);
    const file = join(dir, "weights.safetensors");
    await writeSafetensors(file, await Promise.all(seeded.keys().map(async (key) => ({ key, shape: [...seeded.info(key)!.shape], data: await seeded.readFloat32(key) }))));
    const url = await cacheCompiled(await compile(row.model, { returnNodes: row.returnNodes, size: row.size }));
    const pool = await createExtractorPool(url, file, { backend, workers });
    try {
      const x = tf.randomNormal([row.batch, row.size, row.size, 3]) as tf.Tensor4D;
      tf.dispose(Object.values(await pool.forward(x)));
      const start = performance.now();
      for (let i = 0; i < runs; i++) tf.dispose(Object.values(await pool.forward(x)));
      const secondsPerRun = (performance.now() - start) / 1000 / runs;
      x.dispose();
      return { imagesPerSecond: row.batch / secondsPerRun, secondsPerRun, peakTensorMB: Number.NaN };
    } finally {
      await pool.dispose();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** torchvision's figures for the row, or why there are none (skipped, not installed, failed). */
function torchvisionBaseline(row: Row, runs: number): { imagesPerSecond: number; threads: number } | { missing: string } {
  const python = "/usr/bin/python3";
  if (runs < 1) return { missing: "skipped (--torch-runs 0)" };
  if (!existsSync(python)) return { missing: "not installed" };
  const script = join(dirname(fileURLToPath(import.meta.url)), "torchvision_bench.py");
  const r = spawnSync(python, [script, row.model, row.returnNodes.join(","), String(row.batch), String(row.size), String(runs)], { encoding: "utf8" });
  if (r.status !== 0) {
    // The script exits 3 when /usr/bin/python3 has no torchvision; anything else is a failure worth showing.
    return { missing: r.status === 3 ? "not installed" : `failed: ${r.stderr.trim().split("\n").pop() ?? `exit ${r.status}`}` };
  }
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as { images_per_s: number; threads: number };
  return { imagesPerSecond: out.images_per_s, threads: out.threads };
}

/** Columns padded to their widest cell; from `firstNumber` on, right-aligned. */
function printTable(table: readonly (readonly string[])[], firstNumber: number): void {
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  for (const r of table) console.log(r.map((c, i) => (i >= firstNumber ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  "));
}

/** A 4032x3024 JPEG (a phone photo's size) of smooth gradients, stripes and grain. */
async function photoLikeJpeg(): Promise<Uint8Array> {
  const [width, height] = [4032, 3024];
  const data = new Uint8Array(width * height * 3);
  let seed = 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const grain = (seed >>> 27) - 16;
      const i = (y * width + x) * 3;
      data[i] = Math.max(0, Math.min(255, 128 + 100 * Math.sin(x / 97 + y / 131) + grain));
      data[i + 1] = Math.max(0, Math.min(255, (x * 255) / width + grain));
      data[i + 2] = Math.max(0, Math.min(255, (Math.floor(x / 64) + Math.floor(y / 64)) % 2 ? 200 + grain : 40 + grain));
    }
  }
  const sharp = await loadSharp();
  return sharp(data, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

/** Decode + preprocess `count` copies of `jpeg`, `inFlight` at a time: images/s. */
async function measurePreprocess(jpeg: Uint8Array, model: string, count: number, inFlight: number): Promise<number> {
  const preset = resolvePreprocessing(model);
  await preprocess(jpeg, preset); // warm-up
  const start = performance.now();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      next++;
      await preprocess(jpeg, preset);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return count / ((performance.now() - start) / 1000);
}

async function benchPreprocessing(count: number): Promise<void> {
  const jpeg = await photoLikeJpeg();
  const table: string[][] = [["preprocessing (decode, resize, crop, normalize)", "in flight", "images/s"]];
  for (const [model, what] of [["resnet50", "resnet50 preset (bilinear 232/224)"], ["swin_t", "swin_t preset (bicubic 232/224)"]] as const) {
    for (const inFlight of [1, 4]) {
      table.push([`4032x3024 JPEG, ${what}`, String(inFlight), (await measurePreprocess(jpeg, model, count, inFlight)).toFixed(2)]);
    }
  }
  printTable(table, 1);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      backends: { type: "string" },
      runs: { type: "string", default: "3" },
      "torch-runs": { type: "string", default: "1" },
      models: { type: "string" },
      images: { type: "string", default: "8" },
    },
  });
  const runs = Number(values.runs);
  const torchRuns = Number(values["torch-runs"]);
  const wanted = values.backends?.split(",") as BackendName[] | undefined;
  const backends = (await availableBackends()).filter((b) => wanted === undefined || wanted.includes(b));
  const rows = ROWS.filter((r) => listModels().includes(r.model) && (values.models === undefined || values.models.split(",").includes(r.model)));
  console.log(`fxc bench: ${runs} timed run(s) after a warm-up; backends ${backends.join(", ")}; node ${process.version}`);
  const table: string[][] = [["task", "batch", "engine", "images/s", "s/run", "peak tensors MB", "max RSS MB", "vs torchvision"]];
  for (const row of rows) {
    const measured = torchvisionBaseline(row, torchRuns);
    const baseline = "missing" in measured ? undefined : measured;
    for (const backend of backends) {
      const m = await measure(row, backend, backend === "cpu" ? 1 : runs);
      const rss = process.resourceUsage().maxRSS / 1024;
      const ratio = baseline ? `${(m.imagesPerSecond / baseline.imagesPerSecond).toFixed(2)}x` : "n/a";
      table.push([row.label, String(row.batch), `fxc ${backend}`, m.imagesPerSecond.toFixed(2), m.secondsPerRun.toFixed(2), m.peakTensorMB.toFixed(0), rss.toFixed(0), ratio]);
    }
    const workers = availableParallelism();
    if (workers > 1 && backends.includes("wasm")) {
      const m = await measurePool(row, "wasm", runs, workers);
      const ratio = baseline ? `${(m.imagesPerSecond / baseline.imagesPerSecond).toFixed(2)}x` : "n/a";
      table.push([row.label, String(row.batch), `fxc wasm, ${workers} workers`, m.imagesPerSecond.toFixed(2), m.secondsPerRun.toFixed(2), "per worker", "", ratio]);
    }
    if ("missing" in measured) table.push([row.label, String(row.batch), "torchvision", measured.missing, "", "", "", ""]);
    else table.push([row.label, String(row.batch), `torchvision (${measured.threads} thread${measured.threads === 1 ? "" : "s"})`, measured.imagesPerSecond.toFixed(2), (row.batch / measured.imagesPerSecond).toFixed(2), "", "", "1.00x"]);
  }
  printTable(table, 3);
  const images = Number(values.images);
  if (images > 0) await benchPreprocessing(images);
}

await main();
