/**
 * The judge: an independent detector, image → objects {category, color, box,
 * score}. Stage 1 (segment.ts) finds candidate objects with no learning; stage 2
 * (model.ts) is a small MLP, trained on augmented renders of its own seed stream,
 * that names each candidate's category (or "none") and colour; scores are
 * temperature-calibrated. It imports nothing from model code (src/umm,
 * src/encoders): the suites can trust it to referee any generator.
 */
export * from "./config.ts";
export { type JudgeSample, renderSample, type TruthObject } from "./data.ts";
export {
  type Calibration,
  DEFAULT_JUDGE_DIR,
  type DetectorOptions,
  JudgeModel,
  loadJudge,
  loadJudgeModel,
} from "./detector.ts";
export * from "./eval.ts";
export { boxIou, greedyMatch, MATCH_IOU } from "./match.ts";
export { DEFAULT_SEGMENT, type Segmentation, type SegmentOptions, segment } from "./segment.ts";
export type * from "./types.ts";
