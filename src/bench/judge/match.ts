/**
 * Box overlap and one-to-one matching, shared by the judge's training labels and
 * its evaluation so both use the same rule: a prediction matches a ground-truth
 * object when their boxes overlap with IoU ≥ 0.5 (the COCO/GenEval convention).
 */
import type { PixelBox } from "../../world/render.ts";
import type { BoxXYXY } from "./types.ts";

export const MATCH_IOU = 0.5;

export function toXYXY(b: PixelBox): BoxXYXY {
  return [b.x1, b.y1, b.x2, b.y2];
}

/** IoU of two end-exclusive pixel boxes. */
export function boxIou(a: BoxXYXY, b: BoxXYXY): number {
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const area = (x: BoxXYXY) => (x[2] - x[0]) * (x[3] - x[1]);
  return inter / (area(a) + area(b) - inter);
}

/**
 * Greedy one-to-one matching: predictions in the given order (callers sort by
 * score) each take the unmatched truth with the highest IoU ≥ minIou for which
 * `compatible` holds. Returns, per prediction, the truth index or −1.
 */
export function greedyMatch(
  preds: readonly BoxXYXY[],
  truths: readonly BoxXYXY[],
  compatible: (pred: number, truth: number) => boolean = () => true,
  minIou = MATCH_IOU,
): number[] {
  const taken = new Array<boolean>(truths.length).fill(false);
  return preds.map((pb, i) => {
    let best = -1;
    let bestIou = minIou;
    truths.forEach((tb, j) => {
      if (taken[j] || !compatible(i, j)) return;
      const iou = boxIou(pb, tb);
      if (iou >= bestIou) {
        bestIou = iou;
        best = j;
      }
    });
    if (best >= 0) taken[best] = true;
    return best;
  });
}
