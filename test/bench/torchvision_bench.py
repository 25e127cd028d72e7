#!/usr/bin/python3
"""torchvision's side of `npm run bench`, run as a user runs it.

Each command prints one JSON line on stdout; bench.ts runs each in a process of its own, so
that thread settings and the peak RSS (ru_maxrss) belong to that one measurement.

  blas
      Which BLAS torch loaded: the shared libraries mapped into this process after importing
      torch and running a matrix product, torch's build config, and OpenBLAS's core and threads.
      bench.ts classifies them (test/bench/blas.ts).
  weights MODEL OUT.pth
      A randomly initialized model's state_dict: the checkpoint both sides load.
  model MODEL NODE[,NODE...] BATCH SIZE RUNS THREADS WEIGHTS.pth
      create_feature_extractor on a random batch: the first call (build the model, load the
      weights, trace, one forward at the full batch: it is also the warm-up), then RUNS timed runs;
      then one more under torch's profiler, for the work of one image (flops_per_image).
  gemm M K N RUNS THREADS
      torch.mm of an [M, K] matrix by a [K, N] one, then by an [N, K] one (an MLP block without its
      activation): one run as warm-up, then RUNS timed ones.
  detector-weights MODEL OUT.pth
      A randomly initialized detection model's state_dict (torch.manual_seed(0), weights=None), with
      the box predictor's class-1 bias raised to 5 so that detections pass the score threshold and
      the mask head runs: the checkpoint both sides load.
  detect MODEL HEIGHT WIDTH RUNS THREADS WEIGHTS.pth
      The detection model in eval mode on one seeded HEIGHTxWIDTH image in [0, 1) (the same values as
      test/support/seeded.ts makes): the first call (build, load, one forward), then RUNS timed runs.
  folder FOLDER WEIGHTS.pth BATCH THREADS OUT.pt
      resnet50 over every image in FOLDER as a user writes the loop: PIL open, the DEFAULT
      weights' preset transform, the extractor to layer4, batch BATCH, average-pooled
      descriptors saved to OUT.pt.

Exit 3: /usr/bin/python3 has no torchvision.
"""
import ctypes
import json
import os
import resource
import sys
import time

try:
    import torch
    import torchvision
    from torchvision.models.feature_extraction import create_feature_extractor
except ImportError:
    sys.exit(3)  # bench.ts reports the baseline as not installed

# Tracing ViT unpacks `x.shape`, which Debian's torch 1.13 misreads on Python 3.11 without this.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import fx_unpack_patch  # noqa: E402,F401


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def blas() -> dict:
    # torch maps its BLAS at import; a product makes sure a lazily loaded one is mapped too.
    torch.ones(64, 64) @ torch.ones(64, 64)
    with open("/proc/self/maps") as maps:
        libraries = sorted({fields[-1] for fields in (line.split() for line in maps) if len(fields) >= 6 and fields[-1].startswith("/")})
    libraries = [path for path in libraries if any(word in os.path.basename(path) for word in ("blas", "lapack", "mkl", "blis", "atlas", "omp"))]
    openblas = {}
    library = next((path for path in libraries if os.path.basename(path).startswith("libopenblas")), None)
    if library is not None:
        lib = ctypes.CDLL(library)
        lib.openblas_get_corename.restype = ctypes.c_char_p
        openblas = {"core": lib.openblas_get_corename().decode(), "threads": lib.openblas_get_num_threads()}
    config = torch.__config__.show()
    info = next((part.split("=", 1)[1] for part in config.replace(",", " ").split() if part.startswith("BLAS_INFO=")), "")
    return {
        "libraries": libraries,
        "blas_info": info,
        "mkl": torch.backends.mkl.is_available(),
        "openblas": openblas,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "env": {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS") if k in os.environ},
    }


def weights(model_name: str, out: str) -> None:
    torch.manual_seed(0)
    model = torchvision.models.get_model(model_name)
    torch.save(model.state_dict(), out)
    print(json.dumps({"weights": out}))


def model(model_name: str, nodes: str, batch: int, size: int, runs: int, threads: int, weights_file: str) -> None:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x = torch.randn(batch, 3, size, size)
    with torch.no_grad():
        start = time.perf_counter()
        net = torchvision.models.get_model(model_name)
        net.load_state_dict(torch.load(weights_file))
        extractor = create_feature_extractor(net.eval(), return_nodes=nodes.split(","))
        extractor(x)
        first_call = time.perf_counter() - start
        seconds = []
        for _ in range(runs):
            start = time.perf_counter()
            extractor(x)
            seconds.append(time.perf_counter() - start)
        # The work of one image, as torch's profiler counts it (convolutions and matrix products, 2 per multiply-add), after the timed runs.
        with torch.profiler.profile(with_flops=True) as profiled:
            extractor(x)
    flops = sum(event.flops for event in profiled.key_averages()) / batch
    print(json.dumps({"seconds": seconds, "first_call_s": first_call, "threads": torch.get_num_threads(), "max_rss_mb": max_rss_mb(), "blas": blas(), "flops_per_image": flops}))


def gemm(m: int, k: int, n: int, runs: int, threads: int) -> None:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    a, up, down = torch.randn(m, k), torch.randn(k, n), torch.randn(n, k)
    torch.mm(torch.mm(a, up), down)
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        torch.mm(torch.mm(a, up), down)
        seconds.append(time.perf_counter() - start)
    print(json.dumps({"seconds": seconds, "threads": torch.get_num_threads(), "max_rss_mb": max_rss_mb()}))


def detector_weights(model_name: str, out: str) -> None:
    torch.manual_seed(0)
    net = torchvision.models.get_model(model_name, weights=None, weights_backbone=None)
    with torch.no_grad():
        net.roi_heads.box_predictor.cls_score.bias[1] = 5.0
    torch.save(net.state_dict(), out)
    print(json.dumps({"weights": out}))


def detect(model_name: str, height: int, width: int, runs: int, threads: int, weights_file: str) -> None:
    from seeded import seeded_input

    torch.set_num_threads(threads)
    image = torch.from_numpy((seeded_input([3, height, width], 1) + 1.0) / 2.0)
    with torch.no_grad():
        start = time.perf_counter()
        net = torchvision.models.get_model(model_name, weights=None, weights_backbone=None)
        net.load_state_dict(torch.load(weights_file))
        net.eval()
        out = net([image])
        first_call = time.perf_counter() - start
        seconds = []
        for _ in range(runs):
            start = time.perf_counter()
            out = net([image])
            seconds.append(time.perf_counter() - start)
    print(json.dumps({"seconds": seconds, "first_call_s": first_call, "threads": torch.get_num_threads(), "max_rss_mb": max_rss_mb(), "detections": len(out[0]["scores"]), "blas": blas()}))


def folder(path: str, weights_file: str, batch: int, threads: int, out: str) -> None:
    from PIL import Image
    from torchvision.models import ResNet50_Weights, resnet50

    torch.set_num_threads(threads)
    start = time.perf_counter()
    net = resnet50()
    net.load_state_dict(torch.load(weights_file))
    extractor = create_feature_extractor(net.eval(), return_nodes=["layer4"])
    preset = ResNet50_Weights.DEFAULT.transforms()
    loaded = time.perf_counter() - start
    files = sorted(os.path.join(path, name) for name in os.listdir(path) if name.lower().endswith((".jpg", ".jpeg")))
    rows = []
    with torch.no_grad():
        for i in range(0, len(files), batch):
            images = [preset(Image.open(file).convert("RGB")) for file in files[i : i + batch]]
            rows.append(extractor(torch.stack(images))["layer4"].mean(dim=(2, 3)))
    torch.save(torch.cat(rows), out)
    total = time.perf_counter() - start
    print(json.dumps({"images": len(files), "load_s": loaded, "images_s": total - loaded, "threads": torch.get_num_threads(), "max_rss_mb": max_rss_mb()}))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "blas":
        print(json.dumps(blas()))
    elif command == "weights":
        weights(args[0], args[1])
    elif command == "model":
        model(args[0], args[1], int(args[2]), int(args[3]), int(args[4]), int(args[5]), args[6])
    elif command == "gemm":
        gemm(int(args[0]), int(args[1]), int(args[2]), int(args[3]), int(args[4]))
    elif command == "detector-weights":
        detector_weights(args[0], args[1])
    elif command == "detect":
        detect(args[0], int(args[1]), int(args[2]), int(args[3]), int(args[4]), args[5])
    elif command == "folder":
        folder(args[0], args[1], int(args[2]), int(args[3]), args[4])
    else:
        sys.exit(f"unknown command {command}; use blas, weights, model, gemm, detector-weights, detect or folder")
