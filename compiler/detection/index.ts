export { createDetector, DetectorError, type Detector, type DetectorModule, type DetectorLoadOptions, type DetectOptions, type DetectionResult, type DetectionIntermediates } from "./detector.js";
