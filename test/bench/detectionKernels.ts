// Times runtime/detection's kernels at Mask R-CNN's sizes (an 800 × 1216 batch, 256-wide FPN):
//   node --conditions=fxc-source --import tsx test/bench/detectionKernels.ts
// test/bench/detection_kernels_torch.py times torchvision's on the same sizes, for comparison.
import { performance } from "node:perf_hooks";
import { multiScaleRoIAlign, nms, pasteMasksInImage, resizeImage, topk, type FeatureMap } from "../../runtime/detection/index.js";

let seed = 1;
const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const randomArray = (n: number): Float32Array => Float32Array.from({ length: n }, random);

function boxes(n: number, width: number, height: number, maxSide: number): Float32Array {
  const out = new Float32Array(4 * n);
  for (let i = 0; i < n; i++) {
    const w = 4 + random() * maxSide, h = 4 + random() * maxSide;
    const x = random() * (width - w), y = random() * (height - h);
    out.set([x, y, x + w, y + h], 4 * i);
  }
  return out;
}

function time(label: string, runs: number, fn: () => unknown): void {
  fn(); // warm up
  const start = performance.now();
  for (let r = 0; r < runs; r++) fn();
  console.log(`${label}: ${((performance.now() - start) / runs).toFixed(1)} ms`);
}

const [H, W, C] = [800, 1216, 256];
const features: FeatureMap[] = [4, 8, 16, 32].map((stride) => ({ data: randomArray(C * (H / stride) * (W / stride)), shape: [1, C, H / stride, W / stride] }));
const rois = boxes(1000, W, H, 400);
time("multiScaleRoIAlign 1000 boxes x 256 x 7x7, sampling 2", 3, () => multiScaleRoIAlign(features, [rois], [[H, W]], [7, 7], 2));
time("multiScaleRoIAlign 100 boxes x 256 x 14x14, sampling 2", 3, () => multiScaleRoIAlign(features, [rois.subarray(0, 400)], [[H, W]], [14, 14], 2));
const many = boxes(4000, W, H, 200);
const scores = randomArray(4000);
time("nms 4000 boxes at 0.7", 5, () => nms(many, scores, 0.7));
const objectness = randomArray(200 * 304 * 3);
time("topk 1000 of 182400", 5, () => topk(objectness, 1000));
time("pasteMasksInImage 100 masks 28x28 into 800x1216", 3, () => pasteMasksInImage(randomArray(100 * 28 * 28), 28, rois.subarray(0, 400), [H, W]));
const image = randomArray(3 * 480 * 640);
time("resizeImage 3x480x640 -> 800x1066", 3, () => resizeImage(image, [480, 640], 800, 1333));
