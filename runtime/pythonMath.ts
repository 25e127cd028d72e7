/**
 * Python's `round(x)`: halves go to the even neighbour (`round(2.5) == 2`), where JavaScript's
 * Math.round goes up. torchvision's builders size layers with it, and `F.center_crop` places its
 * crop with it, so the zoo and the image preprocessing share this one.
 */
export function pythonRound(x: number): number {
  const floor = Math.floor(x);
  if (x - floor !== 0.5) return Math.round(x);
  return floor % 2 === 0 ? floor : floor + 1;
}
