/**
 * GenEval's scoring, mirroring evaluation/evaluate_images.py and
 * summary_scores.py rule for rule (docs/DESIGN.md, "Benchmarks"):
 * 1. per class: detections sorted by score, kept if score > 0.3 (0.9 when the
 *    prompt's tag is "counting", for every class), at most 16, then NMS at
 *    max_overlap (1.0 by default, i.e. none);
 * 2. include clauses in order: the `count` most confident must exist (≥ count);
 *    colour: at least `count` of them have the colour; position: every one of
 *    them stands in `rel` to every object of the matched earlier group;
 * 3. exclude clauses fail at ≥ count kept detections;
 * per-tag accuracy over images; overall = unweighted mean of the tag accuracies.
 * The colour of a detection is the judge's forced choice among the ten colours,
 * standing in for GenEval's CLIP zero-shot classifier on the masked crop.
 */
import type { Relation } from "../../world/vocab.ts";
import type { BoxXYXY, Detection } from "../judge/types.ts";
import type { ScoredImage } from "../layout.ts";
import { GENEVAL_TAGS, type GenevalMetadata, type GenevalTag } from "./templates.ts";

/** GenEval's defaults (evaluate_images.py `--options`). */
export const GENEVAL_OPTIONS = {
  threshold: 0.3,
  countingThreshold: 0.9,
  maxObjects: 16,
  maxOverlap: 1,
  positionThreshold: 0.1,
} as const;
export type GenevalOptions = { -readonly [K in keyof typeof GENEVAL_OPTIONS]?: number };

/** GenEval's `compute_iou` (inclusive pixel boxes, hence the +1). */
export function computeIou(a: BoxXYXY, b: BoxXYXY): number {
  const area = (x1: number, y1: number, x2: number, y2: number) =>
    Math.max(x2 - x1 + 1, 0) * Math.max(y2 - y1 + 1, 0);
  const i = area(
    Math.max(a[0], b[0]),
    Math.max(a[1], b[1]),
    Math.min(a[2], b[2]),
    Math.min(a[3], b[3]),
  );
  const u = area(...a) + area(...b) - i;
  return u ? i / u : 0;
}

/**
 * GenEval's `relative_position(A, B)` on pixel boxes: centre offset shrunk per
 * axis by positionThreshold·(dim_A + dim_B), empty if both shrunk components are
 * < 1e-3, else divided by the ORIGINAL offset's length and cut at ±0.5 (y down).
 */
export function genevalRelations(
  a: BoxXYXY,
  b: BoxXYXY,
  positionThreshold: number = GENEVAL_OPTIONS.positionThreshold,
): Relation[] {
  const ox = (a[0] + a[2]) / 2 - (b[0] + b[2]) / 2;
  const oy = (a[1] + a[3]) / 2 - (b[1] + b[3]) / 2;
  const marginX = positionThreshold * (Math.abs(a[2] - a[0]) + Math.abs(b[2] - b[0]));
  const marginY = positionThreshold * (Math.abs(a[3] - a[1]) + Math.abs(b[3] - b[1]));
  const rx = Math.sign(ox) * Math.max(Math.abs(ox) - marginX, 0);
  const ry = Math.sign(oy) * Math.max(Math.abs(oy) - marginY, 0);
  if (Math.abs(rx) < 1e-3 && Math.abs(ry) < 1e-3) return [];
  const norm = Math.hypot(ox, oy);
  const dx = rx / norm;
  const dy = ry / norm;
  const out: Relation[] = [];
  if (dx < -0.5) out.push("left of");
  if (dx > 0.5) out.push("right of");
  if (dy < -0.5) out.push("above");
  if (dy > 0.5) out.push("below");
  return out;
}

/** Step 1: per class, confidence-ordered detections that survive threshold, cap and NMS. */
export function keptDetections(
  detections: readonly Detection[],
  tag: string,
  opts: GenevalOptions = {},
): Map<string, Detection[]> {
  const o = { ...GENEVAL_OPTIONS, ...opts };
  const thr = tag === "counting" ? o.countingThreshold : o.threshold;
  const byClass = new Map<string, Detection[]>();
  for (const d of detections) {
    const list = byClass.get(d.category) ?? [];
    list.push(d);
    byClass.set(d.category, list);
  }
  const out = new Map<string, Detection[]>();
  for (const [cls, list] of byClass) {
    let order = [...list]
      .sort((p, q) => q.score - p.score)
      .filter((d) => d.score > thr)
      .slice(0, o.maxObjects);
    const kept: Detection[] = [];
    while (order.length > 0) {
      const top = order.shift()!;
      kept.push(top);
      if (o.maxOverlap < 1) order = order.filter((d) => computeIou(top.box, d.box) < o.maxOverlap);
    }
    if (kept.length > 0) out.set(cls, kept);
  }
  return out;
}

export type GenevalResult = { correct: boolean; reason: string };

/** Steps 2–3 for one image: GenEval's `evaluate`, reasons worded as GenEval's. */
export function scoreGenevalImage(
  meta: GenevalMetadata,
  detections: readonly Detection[],
  opts: GenevalOptions = {},
): GenevalResult {
  const posThr = opts.positionThreshold ?? GENEVAL_OPTIONS.positionThreshold;
  const objects = keptDetections(detections, meta.tag, opts);
  let correct = true;
  const reason: string[] = [];
  const matchedGroups: (Detection[] | null)[] = [];
  for (const req of meta.include) {
    const cls = req.class;
    let matched = true;
    const found = (objects.get(cls) ?? []).slice(0, req.count);
    if (found.length < req.count) {
      correct = matched = false;
      reason.push(`expected ${cls}>=${req.count}, found ${found.length}`);
    } else {
      if (req.color !== undefined) {
        const hits = found.filter((d) => d.color === req.color).length;
        if (hits < req.count) {
          correct = matched = false;
          reason.push(`expected ${req.color} ${cls}>=${req.count}, found ${hits} ${req.color}`);
        }
      }
      if (req.position !== undefined && matched) {
        const [rel, g] = req.position;
        const target = matchedGroups[g];
        if (!target) {
          correct = matched = false;
          reason.push(`no target for ${cls} to be ${rel}`);
        } else {
          outer: for (const obj of found)
            for (const t of target) {
              const rels = genevalRelations(obj.box, t.box, posThr);
              if (!rels.includes(rel)) {
                correct = matched = false;
                reason.push(`expected ${cls} ${rel} target, found ${rels.join(" and ")} target`);
                break outer;
              }
            }
        }
      }
    }
    matchedGroups.push(matched ? found : null);
  }
  for (const req of meta.exclude ?? []) {
    const n = objects.get(req.class)?.length ?? 0;
    if (n >= req.count) {
      correct = false;
      reason.push(`expected ${req.class}<${req.count}, found ${n}`);
    }
  }
  return { correct, reason: reason.join("\n") };
}

export type GenevalSummary = {
  overall: number;
  tags: Partial<Record<GenevalTag, number>>;
  images: number;
  prompts: number;
  /** summary_scores.py's secondary figures: mean over all images, prompts with ≥1 correct image. */
  correctImages: number;
  correctPrompts: number;
  imagesPerTag: Partial<Record<GenevalTag, number>>;
};

/** summary_scores.py: image-level accuracy per tag, unweighted mean over the tags present. */
export function summarizeGeneval(
  scored: readonly Pick<ScoredImage<GenevalMetadata, GenevalResult>, "item" | "meta" | "result">[],
): GenevalSummary {
  const tags: Partial<Record<GenevalTag, number>> = {};
  const imagesPerTag: Partial<Record<GenevalTag, number>> = {};
  for (const tag of GENEVAL_TAGS) {
    const rows = scored.filter((s) => s.meta.tag === tag);
    if (rows.length === 0) continue;
    tags[tag] = rows.filter((s) => s.result.correct).length / rows.length;
    imagesPerTag[tag] = rows.length;
  }
  const values = Object.values(tags) as number[];
  const prompts = new Map<number, boolean>();
  for (const s of scored) prompts.set(s.item, (prompts.get(s.item) ?? false) || s.result.correct);
  return {
    overall: values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0,
    tags,
    images: scored.length,
    prompts: prompts.size,
    correctImages: scored.length
      ? scored.filter((s) => s.result.correct).length / scored.length
      : 0,
    correctPrompts: prompts.size ? [...prompts.values()].filter(Boolean).length / prompts.size : 0,
    imagesPerTag,
  };
}
