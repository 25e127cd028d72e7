#!/usr/bin/env python3
"""torch's side of test/bench/gpu.ts: torchvision's create_feature_extractor on CUDA, fp32, TF32 off.

  gpu_torch.py DIR MODEL NODE[,NODE...] SIZE BATCHES RUNS OPTIONS_JSON

Writes DIR/MODEL.pth (seed-0 weights, batch-norm statistics randomized so that they matter),
DIR/MODEL-input.npy (a seeded batch of 2) and DIR/MODEL-NODE.npy (each node's output on it: the
reference fxc's webgpu features are checked against), then times the extractor at each batch of
BATCHES (comma-separated) on random input: 3 warm-up runs, then RUNS timed runs, synchronized.
Prints one JSON line. Without CUDA (a machine with no GPU, `gpu.ts --tiny`) it runs on the CPU and
says so. OPTIONS_JSON: torchvision builder options, e.g. {"image_size": 32}.
"""
import json
import os
import sys
import time

import numpy as np
import torch
import torchvision
from torchvision.models.feature_extraction import create_feature_extractor

# Tracing ViT unpacks `x.shape`, which Debian's torch 1.13 misreads on Python 3.11 without this;
# torch 2 (a GPU machine's) finds the instruction by offset itself.
if torch.__version__.startswith("1."):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
    import fx_unpack_patch  # noqa: E402,F401


def main(out: str, model_name: str, nodes: str, size: int, batches: str, runs: int, options: str) -> None:
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    # fp32 as fxc computes it: no TF32 in matmuls or convolutions.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    net = torchvision.models.get_model(model_name, **json.loads(options))
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    torch.save(net.state_dict(), os.path.join(out, f"{model_name}.pth"))
    return_nodes = nodes.split(",")
    extractor = create_feature_extractor(net.eval(), return_nodes=return_nodes).to(device)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, size, size, generator=generator)
    np.save(os.path.join(out, f"{model_name}-input.npy"), x.numpy())
    with torch.no_grad():
        features = extractor(x.to(device))
        for node in return_nodes:
            np.save(os.path.join(out, f"{model_name}-{node}.npy"), features[node].float().cpu().numpy())
        rates = {}
        for batch in (int(b) for b in batches.split(",")):
            xb = torch.randn(batch, 3, size, size, device=device)
            for _ in range(3):
                extractor(xb)
            if cuda:
                torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(runs):
                extractor(xb)
            if cuda:
                torch.cuda.synchronize()
            rates[batch] = batch * runs / (time.perf_counter() - start)
    name = torch.cuda.get_device_name(0) if cuda else "CPU"
    print(json.dumps({"device": name, "cuda": cuda, "torch": torch.__version__, "torchvision": torchvision.__version__, "rates": rates}))


if __name__ == "__main__":
    if len(sys.argv) != 8:
        sys.exit("usage: gpu_torch.py DIR MODEL NODES SIZE BATCHES RUNS OPTIONS_JSON")
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], int(sys.argv[6]), sys.argv[7])
