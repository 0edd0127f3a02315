/**
 * The judge's contract. The judge is an independent referee: image → objects.
 * It never imports model code (src/umm, src/encoders); suites score only what a
 * `Detector` returns, so any detector (the trained judge, or a ground-truth
 * oracle in tests) can stand behind them.
 */

import type { RgbImage } from "../../world/render.ts";
import type { Category, Color } from "../../world/vocab.ts";

/** A box in pixels, GenEval's [x1, y1, x2, y2] order (x2/y2 exclusive). */
export type BoxXYXY = [number, number, number, number];

export type Detection = {
  category: Category;
  /** One of GenEval's ten color names. */
  color: Color;
  box: BoxXYXY;
  /** Confidence in [0, 1], calibrated so GenEval's 0.3 / 0.9 thresholds mean something. */
  score: number;
};

/** Detect every object in each image. Batched so a neural judge can run in one pass. */
export type Detector = (images: RgbImage[]) => Promise<Detection[][]>;
