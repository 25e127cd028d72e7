/**
 * Preloaded into a process the bench times as a whole (`node --import`): at exit, writes the
 * process's peak RSS in MB to the file FXC_BENCH_RSS_FILE names. Worker threads count (they share
 * the process) and preload it too: only the main thread writes. Plain JavaScript, because worker
 * threads preload it before they load TypeScript support.
 */
import { writeFileSync } from "node:fs";
import { isMainThread } from "node:worker_threads";

const file = process.env.FXC_BENCH_RSS_FILE;
if (file && isMainThread) process.on("exit", () => writeFileSync(file, String(process.resourceUsage().maxRSS / 1024)));
