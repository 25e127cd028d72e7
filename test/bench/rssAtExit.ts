/**
 * Preloaded into a process the bench times as a whole (`node --import`): at exit, writes the
 * process's peak RSS in MB to the file FXC_BENCH_RSS_FILE names. Worker threads count: they share the process.
 */
import { writeFileSync } from "node:fs";

const file = process.env.FXC_BENCH_RSS_FILE;
if (file) process.on("exit", () => writeFileSync(file, String(process.resourceUsage().maxRSS / 1024)));
