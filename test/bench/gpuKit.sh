#!/usr/bin/env bash
# bench:gpu on a GPU machine that has no Node, no npm and no network, from the kit that
# `npm run bench:gpu:kit` (test/bench/gpuKit.ts) made where npm works. In the repository's root,
# with .gpukit carried along (the device tool: carry [".gpukit"]):
#
#   bash test/bench/gpuKit.sh [bench:gpu options, e.g. --f16]
#
# Unpacks Node and node_modules (with xz, or Python's lzma where xz is missing), unpacks the
# kit's Vulkan loader where the image has none, points Vulkan at NVIDIA's driver where one is
# installed, then runs test/bench/gpu.ts as `npm run bench:gpu` does. Its output also goes to
# $OUT/bench-gpu.txt where $OUT is set (the device tool brings that folder back).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
kit=$root/.gpukit
scratch=/tmp/fxc-gpukit
say() { echo "gpuKit.sh: $*" >&2; }
if [ ! -f "$kit/node.xz" ] || [ ! -f "$kit/node_modules.tar.xz" ]; then
  say "no kit at $kit; run npm run bench:gpu:kit where npm works, and carry .gpukit along"
  exit 1
fi
made_for=$(cat "$kit/package-lock.sha256" 2>/dev/null || true)
here=$(python3 -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$root/package-lock.json")
if [ "$made_for" != "$here" ]; then
  say "the kit was made for another package-lock.json than this tree's; run npm run bench:gpu:kit again"
  exit 1
fi
unxz_to_stdout() {
  if command -v xz >/dev/null; then xz -dc "$1"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"
  fi
}
mkdir -p "$scratch/bin"
if [ ! -x "$scratch/bin/node" ]; then
  unxz_to_stdout "$kit/node.xz" >"$scratch/bin/node.partial"
  chmod +x "$scratch/bin/node.partial"
  mv "$scratch/bin/node.partial" "$scratch/bin/node"
fi
if [ ! -d "$root/node_modules" ]; then
  unxz_to_stdout "$kit/node_modules.tar.xz" | tar -x -C "$root"
fi
export PATH=$scratch/bin:$PATH
say "node $(node --version)"

# Dawn loads libvulkan.so.1 itself; an image without it gets Debian's (the kit's debs), as root.
# (grep reads all of ldconfig's list: grep -q would stop early and fail the pipe under pipefail)
if ! ldconfig -p | grep 'libvulkan\.so\.1 ' >/dev/null; then
  if ls "$kit"/debs/*.deb >/dev/null 2>&1; then
    for deb in "$kit"/debs/*.deb; do dpkg -x "$deb" /; done
    ldconfig
    say "Vulkan loader unpacked from the kit"
  else
    say "no Vulkan loader here and none in the kit; webgpu will find no adapter"
  fi
fi
# NVIDIA's Vulkan driver, named explicitly so that no CPU emulation is chosen beside it.
if [ -z "${VK_DRIVER_FILES:-}" ]; then
  for icd in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ]; then export VK_DRIVER_FILES=$icd; say "Vulkan driver $icd"; break; fi
  done
fi
egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
if [ -z "${__EGL_VENDOR_LIBRARY_FILENAMES:-}" ] && [ -f "$egl" ]; then export __EGL_VENDOR_LIBRARY_FILENAMES=$egl; fi
if command -v nvidia-smi >/dev/null; then say "GPU $(nvidia-smi --id=0 --query-gpu=name,driver_version --format=csv,noheader)"; fi

cd "$root"
log=${OUT:-$scratch}/bench-gpu.txt
node --conditions=fxc-source --import tsx test/bench/gpu.ts "$@" 2>&1 | tee "$log"
