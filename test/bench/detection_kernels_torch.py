#!/usr/bin/python3
"""torchvision 0.14.1's detection kernels on the sizes test/bench/detectionKernels.ts times (CPU, one thread by default)."""
import sys
import time

import torch
from torchvision.models.detection.roi_heads import paste_masks_in_image
from torchvision.models.detection.transform import _resize_image_and_masks
from torchvision.ops import MultiScaleRoIAlign, nms

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
H, W, C = 800, 1216, 256


def boxes(n, max_side):
    wh = 4 + torch.rand(n, 2) * max_side
    xy = torch.rand(n, 2) * (torch.tensor([W, H]) - wh)
    return torch.cat([xy, xy + wh], 1)


def timed(label, runs, fn):
    fn()
    start = time.perf_counter()
    for _ in range(runs):
        fn()
    print(f"{label}: {(time.perf_counter() - start) / runs * 1000:.1f} ms")


features = {str(i): torch.rand(1, C, H // s, W // s) for i, s in enumerate([4, 8, 16, 32])}
rois = boxes(1000, 400)
pool7, pool14 = MultiScaleRoIAlign(list(features), 7, 2), MultiScaleRoIAlign(list(features), 14, 2)
with torch.no_grad():
    timed("MultiScaleRoIAlign 1000 boxes x 256 x 7x7, sampling 2", 3, lambda: pool7(features, [rois], [(H, W)]))
    timed("MultiScaleRoIAlign 100 boxes x 256 x 14x14, sampling 2", 3, lambda: pool14(features, [rois[:100]], [(H, W)]))
    many, scores = boxes(4000, 200), torch.rand(4000)
    timed("nms 4000 boxes at 0.7", 5, lambda: nms(many, scores, 0.7))
    objectness = torch.rand(200 * 304 * 3)
    timed("topk 1000 of 182400", 5, lambda: objectness.topk(1000))
    timed("paste_masks_in_image 100 masks 28x28 into 800x1216", 3, lambda: paste_masks_in_image(torch.rand(100, 1, 28, 28), rois[:100], (H, W)))
    image = torch.rand(3, 480, 640)
    timed("resize 3x480x640 -> 800x1066", 3, lambda: _resize_image_and_masks(image, 800.0, 1333.0))
