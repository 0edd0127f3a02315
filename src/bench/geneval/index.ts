/** The GenEval-mini suite: prompts, ground truth and GenEval's scoring behind one BenchSuite. */
import { worldCategories } from "../../world/vocab.ts";
import type { BenchSuite } from "../layout.ts";
import { genevalGroundTruth } from "./ground-truth.ts";
import { parseGenevalMetadata } from "./metadata.ts";
import {
  type GenevalOptions,
  type GenevalResult,
  scoreGenevalImage,
  summarizeGeneval,
} from "./score.ts";
import type { GenevalMetadata } from "./templates.ts";

export * from "./ground-truth.ts";
export * from "./metadata.ts";
export * from "./prompts.ts";
export * from "./score.ts";
export * from "./templates.ts";

export function genevalSuite(
  opts: { numCategories?: number; scoring?: GenevalOptions } = {},
): BenchSuite<GenevalMetadata, GenevalResult> {
  const categories = worldCategories(opts.numCategories);
  return {
    name: "geneval",
    groupKey: "tags",
    parseMetadata: (value, where) => parseGenevalMetadata(value, where, categories),
    groundTruth: genevalGroundTruth,
    scoreImage: (meta, detections) => scoreGenevalImage(meta, detections, opts.scoring),
    failedResult: (_meta, reason) => ({ correct: false, reason }),
    summarize: summarizeGeneval,
  };
}
