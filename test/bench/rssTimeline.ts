/**
 * Where a task's peak RSS comes from (issue #10): runs a compiled module in a child process and
 * polls the child's resident set every 5 ms from outside (so the child runs as it would: no timer
 * in it, no sampler thread), splitting the run into stages the child announces on stderr. Prints
 * each stage's peak and its RSS at the end, and, after loading and after the runs, the child's
 * memory by mapping (`[heap]`: glibc's main heap; `[anon]`: mmapped chunks, V8's heap, ONNX
 * Runtime's arena) beside V8's own figures. Linux only (/proc).
 *
 *   node --conditions=fxc-source --import tsx test/bench/rssTimeline.ts MODULE_URL WEIGHTS [BATCH=8] [RUNS=3] [SIZE=224] [LOAD_OPTIONS_JSON]
 *
 * MODULE_URL is a compiled module's runnable form (bench.ts makes them with cacheCompiled).
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { NODE_WITH_SOURCES } from "./child.js";

const STAGE = "@stage ";

/** The child's resident set in MB, or undefined once it is gone. */
function rssOf(pid: number): number | undefined {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;
  } catch {
    return undefined;
  }
}

/** This process's resident memory by mapping, largest first, with V8's heap and array-buffer figures. */
function memoryByMapping(label: string): string {
  const groups = new Map<string, number>();
  let name = "";
  for (const line of readFileSync("/proc/self/smaps", "utf8").split("\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head !== null) {
      name = head[1] || "[anon]";
      if (name.includes("/")) name = name.split("/").pop()!;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss !== null) groups.set(name, (groups.get(name) ?? 0) + Number(rss[1]) / 1024);
  }
  const top = [...groups].sort((a, b) => b[1] - a[1]).slice(0, 6);
  const { heapTotal, external, arrayBuffers } = process.memoryUsage();
  const mb = (n: number): string => (n / 2 ** 20).toFixed(0);
  return `${label}: ${top.map(([n, v]) => `${n} ${v.toFixed(0)}`).join(", ")} | V8 heap ${mb(heapTotal)}, external ${mb(external)}, array buffers ${mb(arrayBuffers)} MB`;
}

async function child(moduleUrl: string, weights: string, batch: number, runs: number, size: number, options: object): Promise<void> {
  const stage = (name: string): boolean => process.stderr.write(`${STAGE}${name}\n`);
  stage("import runtime");
  const { tf } = await import("../../runtime/index.js");
  stage("import module");
  const module = (await import(moduleUrl)) as { load(weights: string, options: object): Promise<{ run(x: unknown): Promise<Record<string, unknown>>; dispose(): unknown; engine: string }> };
  stage("load (weights, graph, session)");
  const extractor = await module.load(weights, options);
  console.log(`engine ${extractor.engine}`);
  console.log(memoryByMapping("after load"));
  stage("input");
  const x = tf.randomUniform([batch, size, size, 3], -1, 1, "float32", 1);
  const release = (outputs: Record<string, unknown>): void => tf.dispose(Object.values(outputs).filter((v): v is InstanceType<typeof tf.Tensor> => v instanceof tf.Tensor));
  stage("first run");
  release(await extractor.run(x));
  stage("steady runs");
  const seconds: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    release(await extractor.run(x));
    seconds.push((performance.now() - start) / 1000);
  }
  seconds.sort((a, b) => a - b);
  console.log(`median ${seconds[seconds.length >> 1]!.toFixed(3)} s/run, ${(batch / seconds[seconds.length >> 1]!).toFixed(2)} images/s`);
  console.log(memoryByMapping("after runs"));
  stage("dispose");
  x.dispose();
  await extractor.dispose();
}

function parent(args: readonly string[]): void {
  const proc = spawn(NODE_WITH_SOURCES[0]!, [...NODE_WITH_SOURCES.slice(1), fileURLToPath(import.meta.url), "--child", ...args], { stdio: ["ignore", "inherit", "pipe"] });
  const started = performance.now();
  const stages = [{ name: "start", at: 0, peak: 0, end: 0 }];
  const sample = (): void => {
    const rss = rssOf(proc.pid!);
    if (rss === undefined) return;
    const current = stages[stages.length - 1]!;
    current.peak = Math.max(current.peak, rss);
    current.end = rss;
  };
  const timer = setInterval(sample, 5);
  let pending = "";
  proc.stderr.on("data", (data: Buffer) => {
    pending += data.toString();
    for (let nl = pending.indexOf("\n"); nl >= 0; nl = pending.indexOf("\n")) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (!line.startsWith(STAGE)) {
        process.stderr.write(`${line}\n`);
        continue;
      }
      sample();
      stages.push({ name: line.slice(STAGE.length), at: (performance.now() - started) / 1000, peak: 0, end: 0 });
      sample();
    }
  });
  proc.on("close", (code) => {
    clearInterval(timer);
    for (const s of stages) console.log(`${s.at.toFixed(2).padStart(7)} s  ${s.name.padEnd(32)} peak ${s.peak.toFixed(0).padStart(5)} MB, at its end ${s.end.toFixed(0).padStart(5)} MB`);
    console.log(`peak ${Math.max(...stages.map((s) => s.peak)).toFixed(0)} MB (polled every 5 ms)`);
    process.exitCode = code ?? 1;
  });
}

const argv = process.argv.slice(2);
if (argv[0] === "--child") {
  const [moduleUrl, weights, batch = "8", runs = "3", size = "224", options = "{}"] = argv.slice(1);
  await child(moduleUrl!, weights!, Number(batch), Number(runs), Number(size), JSON.parse(options) as object);
} else if (argv.length < 2) {
  console.error("usage: rssTimeline.ts MODULE_URL WEIGHTS [BATCH=8] [RUNS=3] [SIZE=224] [LOAD_OPTIONS_JSON]");
  process.exitCode = 2;
} else parent(argv);
