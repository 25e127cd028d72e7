#!/usr/bin/python3
"""torchvision's side of `npm run bench`: create_feature_extractor on the same task.

Prints one JSON line: {"images_per_s": ..., "seconds_per_run": ..., "threads": ...}.
Usage: torchvision_bench.py MODEL NODE[,NODE...] BATCH SIZE RUNS
"""
import json
import sys
import time

import torch
import torchvision
from torchvision.models.feature_extraction import create_feature_extractor


def main(model_name: str, nodes: str, batch: int, size: int, runs: int) -> None:
    torch.manual_seed(0)
    model = torchvision.models.get_model(model_name).eval()
    extractor = create_feature_extractor(model, return_nodes=nodes.split(","))
    x = torch.randn(batch, 3, size, size)
    with torch.no_grad():
        extractor(x)  # warm-up
        start = time.perf_counter()
        for _ in range(runs):
            extractor(x)
        seconds = (time.perf_counter() - start) / runs
    print(json.dumps({"images_per_s": batch / seconds, "seconds_per_run": seconds, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
