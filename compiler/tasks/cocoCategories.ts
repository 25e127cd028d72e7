/**
 * torchvision's _COCO_CATEGORIES (torchvision/models/_meta.py): the names of the 91 classes its COCO
 * detectors predict, indexed by label; "__background__" is 0 and "N/A" marks the ids COCO left unused.
 */
export const COCO_CATEGORIES: readonly string[] = Object.freeze([
  "__background__", "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
  "traffic light", "fire hydrant", "N/A", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse",
  "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "N/A", "backpack", "umbrella", "N/A", "N/A", "handbag",
  "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove",
  "skateboard", "surfboard", "tennis racket", "bottle", "N/A", "wine glass", "cup", "fork", "knife", "spoon",
  "bowl", "banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake",
  "chair", "couch", "potted plant", "bed", "N/A", "dining table", "N/A", "N/A", "toilet", "N/A", "tv", "laptop",
  "mouse", "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "N/A",
  "book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
]);

/** A label's name: COCO's for a 91-class detector, else the index itself. */
export function labelName(label: number, numClasses: number): string {
  return numClasses === COCO_CATEGORIES.length ? (COCO_CATEGORIES[label] ?? String(label)) : String(label);
}
