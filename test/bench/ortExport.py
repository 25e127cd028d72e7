"""torch's own ONNX export of torchvision's create_feature_extractor, for test/bench/ortGraphs.ts.

    /usr/bin/python3 test/bench/ortExport.py MODEL NODE[,NODE] WEIGHTS_OUT.pth EXPORT_OUT.onnx [BATCH] [SIZE]

Writes the model's seeded random weights (both sides load the same file) and the extractor's graph
at opset 17 with the batch fixed, as fxc builds its graph for one input shape. Needs torch and
torchvision only (torch 1.13 exports without the onnx package). The export runs with autograd on:
in no_grad eval mode nn.MultiheadAttention takes its fused fast path, which has no ONNX export.
"""
import os
import sys

import torch
import torchvision
from torchvision.models.feature_extraction import create_feature_extractor

# Tracing ViT unpacks `x.shape`, which Debian's torch 1.13 misreads on Python 3.11 without this.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import fx_unpack_patch  # noqa: E402,F401


def main(name: str, nodes: str, weights_out: str, export_out: str, batch: int = 8, size: int = 224) -> None:
    torch.manual_seed(0)
    net = getattr(torchvision.models, name)().eval()
    torch.save(net.state_dict(), weights_out)
    names = nodes.split(",")
    extractor = create_feature_extractor(net, {n: n for n in names}).eval()
    x = torch.randn(batch, 3, size, size)
    torch.onnx.export(extractor, x, export_out, opset_version=17, input_names=["input"], output_names=names, do_constant_folding=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], *(int(a) for a in sys.argv[5:7]))
