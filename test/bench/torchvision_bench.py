#!/usr/bin/python3
"""torchvision's side of `npm run bench`: create_feature_extractor on the same task.

Prints one JSON line: {"images_per_s": ..., "seconds_per_run": ..., "threads": ...}.
Usage: torchvision_bench.py MODEL NODE[,NODE...] BATCH SIZE RUNS
"""
import json
import os
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


def main(model_name: str, nodes: str, batch: int, size: int, runs: int) -> None:
    torch.manual_seed(0)
    model = torchvision.models.get_model(model_name).eval()
    extractor = create_feature_extractor(model, return_nodes=nodes.split(","))
    x = torch.randn(batch, 3, size, size)
    with torch.no_grad():
        extractor(x[:1])  # warm-up: one image is enough to initialize
        start = time.perf_counter()
        for _ in range(runs):
            extractor(x)
        seconds = (time.perf_counter() - start) / runs
    print(json.dumps({"images_per_s": batch / seconds, "seconds_per_run": seconds, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
