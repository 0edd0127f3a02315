/**
 * DPG-mini questions: a dense prompt decomposed into yes/no questions in
 * DPG-Bench's Davidsonian form — each has a tuple "<L1> - <L2> (args)", an id
 * (1-based, in order) and parent ids (DPG's `dependency`; [] for DPG's "0") —
 * and answered from the judge's objects instead of a VQA model.
 *
 * L1 categories: entity, attribute, count, relation, global. Answers use the
 * judge's detections with score > 0.3 (GenEval's default threshold):
 * - entity - whole (c):          some c is detected
 * - attribute - color (c, col):  some c of colour col
 * - count - exact (col c, k):    exactly k of (c, col)        (stated counts ≥ 2)
 * - count - total (objects, n):  exactly n objects in all
 * - relation - spatial (A, rel, B): the top-|A| detections of A's (class, colour)
 *   each stand in rel to each of the top-|B| of B's, by GenEval's position rule
 * - global - background (gray):  ≥ 90% of the pixels outside every detected box
 *   lie within 0.15 (RGB, [0,1]) of the world's gray
 */
import type { RgbImage } from "../../world/render.ts";
import { backgroundRgb, type Category, type Color, type Relation } from "../../world/vocab.ts";
import { genevalRelations } from "../geneval/score.ts";
import type { Detection } from "../judge/types.ts";

export const DPG_CATEGORIES = ["entity", "attribute", "count", "relation", "global"] as const;
export type DpgCategory = (typeof DPG_CATEGORIES)[number];

/** A group of identical objects as the prompt states it ("two red circles"). */
export type DpgGroupRef = { category: Category; color: Color; count: number };

export type DpgCheck =
  | { kind: "exists"; category: Category }
  | { kind: "color"; category: Category; color: Color }
  | { kind: "count"; category: Category; color: Color; count: number }
  | { kind: "total"; count: number }
  | { kind: "relation"; subject: DpgGroupRef; relation: Relation; reference: DpgGroupRef }
  | { kind: "background" };

export type DpgQuestion = {
  id: number;
  /** DPG's tuple, e.g. "attribute - color (circle, red)". */
  tuple: string;
  question: string;
  parents: number[];
  check: DpgCheck;
};

export const DPG_THRESHOLD = 0.3;
export const BACKGROUND_TOLERANCE = 0.15;
export const BACKGROUND_FRACTION = 0.9;

/** "entity - whole (circle)" → L1 "entity", L2 "entity - whole". */
export function tupleCategories(tuple: string): { l1: string; l2: string } {
  const l2 = tuple.split("(")[0].trim();
  return { l1: l2.split("-")[0].trim(), l2 };
}

function ofGroup(dets: readonly Detection[], category: Category, color?: Color): Detection[] {
  return dets
    .filter((d) => d.category === category && (color === undefined || d.color === color))
    .sort((a, b) => b.score - a.score);
}

/** Fraction of the pixels outside every box that look like the background (0 if none). */
export function backgroundFraction(image: RgbImage, dets: readonly Detection[]): number {
  const bg = backgroundRgb();
  const W = image.width;
  let outside = 0;
  let gray = 0;
  for (let y = 0; y < image.height; y++)
    for (let x = 0; x < W; x++) {
      if (dets.some((d) => x >= d.box[0] && x < d.box[2] && y >= d.box[1] && y < d.box[3]))
        continue;
      outside++;
      const p = 3 * (y * W + x);
      const dist = Math.hypot(
        image.data[p] - bg[0],
        image.data[p + 1] - bg[1],
        image.data[p + 2] - bg[2],
      );
      if (dist <= BACKGROUND_TOLERANCE) gray++;
    }
  return outside ? gray / outside : 0;
}

/** The raw yes (true) / no (false) answer to one question. */
export function answerQuestion(
  check: DpgCheck,
  detections: readonly Detection[],
  image: RgbImage,
): boolean {
  const dets = detections.filter((d) => d.score > DPG_THRESHOLD);
  switch (check.kind) {
    case "exists":
      return ofGroup(dets, check.category).length > 0;
    case "color":
      return ofGroup(dets, check.category, check.color).length > 0;
    case "count":
      return ofGroup(dets, check.category, check.color).length === check.count;
    case "total":
      return dets.length === check.count;
    case "relation": {
      const { subject: s, reference: r } = check;
      const a = ofGroup(dets, s.category, s.color).slice(0, s.count);
      const b = ofGroup(dets, r.category, r.color).slice(0, r.count);
      if (a.length < s.count || b.length < r.count) return false;
      return a.every((p) =>
        b.every((q) => genevalRelations(p.box, q.box).includes(check.relation)),
      );
    }
    case "background":
      return backgroundFraction(image, dets) >= BACKGROUND_FRACTION;
  }
}
