/**
 * torchvision's side of the bench: torchvision_bench.py under /usr/bin/python3, one process per
 * measurement, with the thread counts and environment a user would have.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { TorchBlasReport } from "./blas.js";
import { failure, lastJson, ROOT, runProcess, type Finished } from "./child.js";
import type { Timing } from "./targets.js";

const PYTHON = "/usr/bin/python3";
const SCRIPT = join(ROOT, "test/bench/torchvision_bench.py");

/** Variables set on some machines for older OpenBLAS builds (wrong results or crashes on new cores); they can slow a current one. */
export const OPENBLAS_OVERRIDES = ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"] as const;

/** One way of running torch: a thread count and an environment. */
export interface TorchConfig {
  readonly label: string;
  readonly threads: number;
  readonly env: NodeJS.ProcessEnv;
}

export interface TorchResult extends Timing {
  /** Building the model, loading the weights, tracing and one run at the full batch (the warm-up). */
  readonly firstCallSeconds: number;
  readonly threads: number;
  readonly blas: TorchBlasReport;
}

/** A model task's torch side: its timing and the work of one image. */
export interface TorchModelResult extends TorchResult {
  /** The work of one image as torch's profiler counts it (convolutions and matrix products; 2 per multiply-add). */
  readonly flopsPerImage: number;
}

function python(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Finished> {
  return runProcess(PYTHON, [SCRIPT, ...args], env);
}

/** Which BLAS torch loads, or why there is no torch to ask. */
export async function torchBlas(): Promise<TorchBlasReport | string> {
  if (!existsSync(PYTHON)) return `not installed (no ${PYTHON})`;
  const done = await python(["blas"]);
  if (done.code === 3) return `not installed (${PYTHON} has no torchvision: apt-get install python3-torchvision)`;
  return done.code === 0 ? lastJson<TorchBlasReport>(done) : failure(done);
}

/** A randomly initialized model's state_dict in torchvision's .pth format: the checkpoint both sides load. */
export async function torchWeights(model: string, out: string): Promise<void> {
  const done = await python(["weights", model, out]);
  if (done.code !== 0) throw new Error(`torch could not write ${model}'s weights: ${failure(done)}`);
}

/**
 * `torch.set_num_threads(os.cpu_count())`, as a user who wants speed sets it, and one thread; with
 * both OpenBLAS overrides unset as well where the environment sets either. OpenBLAS keeps its own
 * threads: torch.set_num_threads does not change them.
 */
export function torchConfigs(cpus: number, env: NodeJS.ProcessEnv = process.env): TorchConfig[] {
  const threads = (n: number): string => `torchvision, set_num_threads(${n})`;
  const configs: TorchConfig[] = [{ label: threads(cpus), threads: cpus, env }];
  if (cpus > 1) configs.push({ label: threads(1), threads: 1, env });
  if (OPENBLAS_OVERRIDES.some((name) => env[name] !== undefined)) {
    const unset = Object.fromEntries(Object.entries(env).filter(([name]) => !(OPENBLAS_OVERRIDES as readonly string[]).includes(name)));
    configs.push({ label: `${threads(cpus)}, ${OPENBLAS_OVERRIDES.join(" and ")} unset`, threads: cpus, env: unset });
  }
  return configs;
}

export interface TorchModelJob {
  readonly model: string;
  readonly returnNodes: readonly string[];
  readonly batch: number;
  readonly size: number;
  readonly runs: number;
  readonly weights: string;
}

/** create_feature_extractor on a random batch; a string says why it could not be measured. */
export async function measureTorch(job: TorchModelJob, config: TorchConfig): Promise<TorchModelResult | string> {
  const args = ["model", job.model, job.returnNodes.join(","), String(job.batch), String(job.size), String(job.runs), String(config.threads), job.weights];
  const done = await python(args, config.env);
  if (done.code !== 0) return failure(done);
  const out = lastJson<{ seconds: number[]; first_call_s: number; threads: number; max_rss_mb: number; blas: TorchBlasReport; flops_per_image: number }>(done);
  return { seconds: out.seconds, firstCallSeconds: out.first_call_s, threads: out.threads, maxRssMB: out.max_rss_mb, blas: out.blas, flopsPerImage: out.flops_per_image };
}

/** torch.mm of an [m, k] matrix by a [k, n] one, then by an [n, k] one, at the config's threads (torchvision_bench.py `gemm`); a string says why it could not be timed. */
export async function measureTorchGemm(job: { readonly m: number; readonly k: number; readonly n: number; readonly runs: number }, config: TorchConfig): Promise<Timing | string> {
  const done = await python(["gemm", String(job.m), String(job.k), String(job.n), String(job.runs), String(config.threads)], config.env);
  if (done.code !== 0) return failure(done);
  const out = lastJson<{ seconds: number[]; max_rss_mb: number }>(done);
  return { seconds: out.seconds, maxRssMB: out.max_rss_mb };
}

export interface TorchFolderRun {
  /** From spawning python to its exit: importing torch, loading, every image, saving. */
  readonly wallSeconds: number;
  /** The images: opening, preprocessing, the extractor, saving the descriptors. */
  readonly imagesSeconds: number;
  readonly images: number;
  readonly maxRssMB: number;
}

/** The loop a torchvision user writes over a folder of photos (see torchvision_bench.py `folder`). */
export async function torchFolder(folder: string, weights: string, batch: number, threads: number, out: string): Promise<TorchFolderRun | string> {
  const done = await python(["folder", folder, weights, String(batch), String(threads), out]);
  if (done.code !== 0) return failure(done);
  const r = lastJson<{ images: number; load_s: number; images_s: number; max_rss_mb: number }>(done);
  return { wallSeconds: done.seconds, imagesSeconds: r.images_s, images: r.images, maxRssMB: r.max_rss_mb };
}

/** A detection model's random state_dict with detections that pass the score threshold (see torchvision_bench.py `detector-weights`). */
export async function torchDetectorWeights(model: string, out: string): Promise<void> {
  const done = await python(["detector-weights", model, out]);
  if (done.code !== 0) throw new Error(`torch could not write ${model}'s weights: ${failure(done)}`);
}

export interface TorchDetectJob {
  readonly model: string;
  readonly height: number;
  readonly width: number;
  readonly runs: number;
  readonly weights: string;
}

/** The detection model in eval mode on one seeded image; a string says why it could not be measured. */
export async function measureTorchDetect(job: TorchDetectJob, config: TorchConfig): Promise<(TorchResult & { readonly detections: number }) | string> {
  const done = await python(["detect", job.model, String(job.height), String(job.width), String(job.runs), String(config.threads), job.weights], config.env);
  if (done.code !== 0) return failure(done);
  const out = lastJson<{ seconds: number[]; first_call_s: number; threads: number; max_rss_mb: number; detections: number; blas: TorchBlasReport }>(done);
  return { seconds: out.seconds, firstCallSeconds: out.first_call_s, threads: out.threads, maxRssMB: out.max_rss_mb, detections: out.detections, blas: out.blas };
}
