/**
 * DPG-Bench's scoring (compute_dpg_bench.py), on answers from questions.ts:
 * per image, raw yes/no per question; then, in question order, a question is
 * zeroed if any parent currently scores 0 (parents read after their own zeroing,
 * so zeros run down chains); image score = mean over ALL the prompt's questions;
 * DPG score = 100 × mean over images. L1/L2 category scores = 100 × mean of the
 * RAW answers pooled over (image, question) pairs — not dependency-adjusted.
 * (RecA's script asks each question four times on the same image; a
 * deterministic answerer makes that a no-op, so it is done once.)
 */
import type { RgbImage } from "../../world/render.ts";
import type { Detection } from "../judge/types.ts";
import type { ScoredImage } from "../layout.ts";
import type { DpgItem } from "./prompts.ts";
import { answerQuestion, type DpgQuestion, tupleCategories } from "./questions.ts";

export type DpgResult = { raw: number[]; adjusted: number[]; score: number };

/** Dependency zeroing, in question order (ids are 1-based positions). */
export function applyDependencies(
  questions: readonly DpgQuestion[],
  raw: readonly number[],
): number[] {
  const byId = new Map(questions.map((q, k) => [q.id, k]));
  const cur = [...raw];
  questions.forEach((q, k) => {
    if (q.parents.some((p) => p !== 0 && cur[byId.get(p)!] === 0)) cur[k] = 0;
  });
  return cur;
}

export function dpgImageResult(
  questions: readonly DpgQuestion[],
  raw: readonly number[],
): DpgResult {
  const adjusted = applyDependencies(questions, raw);
  const score = adjusted.length ? adjusted.reduce((a, b) => a + b, 0) / adjusted.length : 0;
  return { raw: [...raw], adjusted, score };
}

export function scoreDpgImage(
  item: DpgItem,
  detections: readonly Detection[],
  image: RgbImage,
): DpgResult {
  const raw = item.questions.map((q) => (answerQuestion(q.check, detections, image) ? 1 : 0));
  return dpgImageResult(item.questions, raw);
}

export type DpgSummary = {
  overall: number;
  /** L1 categories, raw answers ×100. */
  categories: Record<string, number>;
  /** L2 categories ("entity - whole", …), raw answers ×100. */
  detailed: Record<string, number>;
  images: number;
  prompts: number;
  questions: number;
};

export function summarizeDpg(
  scored: readonly Pick<ScoredImage<DpgItem, DpgResult>, "item" | "meta" | "result">[],
): DpgSummary {
  const l1 = new Map<string, [number, number]>();
  const l2 = new Map<string, [number, number]>();
  const bump = (m: Map<string, [number, number]>, k: string, v: number) => {
    const e = m.get(k) ?? [0, 0];
    m.set(k, [e[0] + v, e[1] + 1]);
  };
  for (const s of scored)
    s.meta.questions.forEach((q, k) => {
      const { l1: a, l2: b } = tupleCategories(q.tuple);
      bump(l1, a, s.result.raw[k]);
      bump(l2, b, s.result.raw[k]);
    });
  const pct = (m: Map<string, [number, number]>) =>
    Object.fromEntries([...m].map(([k, [sum, n]]) => [k, (100 * sum) / n]));
  const items = new Set(scored.map((s) => s.item));
  return {
    overall: scored.length
      ? (100 * scored.reduce((a, s) => a + s.result.score, 0)) / scored.length
      : 0,
    categories: pct(l1),
    detailed: pct(l2),
    images: scored.length,
    prompts: items.size,
    questions: [...items].reduce(
      (a, i) => a + scored.find((s) => s.item === i)!.meta.questions.length,
      0,
    ),
  };
}
