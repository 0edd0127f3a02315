/**
 * Und-mini: VQA-style understanding questions about rendered scenes, answered
 * by any answerer `(image, question) → answer` (a model's image→text path, an
 * oracle, a random guesser). Exact match after normalisation: lower case,
 * trimmed, inner whitespace collapsed, a trailing "." / "?" / "!" dropped, and
 * digits 0–10 written as number words ("2" ≡ "two"). Accuracy per question type
 * (category, color, count, position) and overall over all questions (VQA's
 * convention); the unweighted mean over types is reported alongside.
 * Items: scene i from WorldRng("bench/und", seed, i), uniform colours, 4
 * questions each (world's vqaQuestions); default 64 scenes (256 questions),
 * full 500 scenes (2,000 questions); seed 17.
 */
import type { SceneExclusion } from "../../data/corpora.ts";
import { WorldRng } from "../../world/random.ts";
import { type RgbImage, renderImage } from "../../world/render.ts";
import { type Scene, sampleScene } from "../../world/scene.ts";
import {
  ALL_CATEGORIES,
  COLORS,
  NUMBER_WORDS,
  RELATIONS,
  worldCategories,
} from "../../world/vocab.ts";
import { type VqaType, vqaQuestions } from "../../world/vqa.ts";
import { GENEVAL_NUMBER_WORDS } from "../geneval/templates.ts";
import { imageKey } from "../oracle.ts";

export const UND_SEED = 17;
export const UND_DEFAULT_SCENES = 64;
export const UND_FULL_SCENES = 500;
export const UND_QUESTIONS_PER_SCENE = 4;
export const VQA_TYPES = ["category", "color", "count", "position"] as const;

export type UndQuestion = { question: string; answer: string; type: VqaType };
export type UndItem = { id: string; scene: Scene; questions: UndQuestion[] };
export type Answerer = (image: RgbImage, question: string) => Promise<string>;

export type UndSetOptions = {
  full?: boolean;
  scenes?: number;
  numCategories?: number;
  seed?: number;
  exclude?: SceneExclusion;
};

export function undItemSet(opts: UndSetOptions = {}): UndItem[] {
  const seed = opts.seed ?? UND_SEED;
  const n = opts.scenes ?? (opts.full ? UND_FULL_SCENES : UND_DEFAULT_SCENES);
  const categories = worldCategories(opts.numCategories);
  return Array.from({ length: n }, (_, i) => {
    const rng = WorldRng.fromParts("bench/und", seed, i);
    const scene = sampleScene(rng, { categories });
    opts.exclude?.add(scene);
    const questions = vqaQuestions(scene, rng, { n: UND_QUESTIONS_PER_SCENE, categories });
    return { id: `und-${String(i).padStart(5, "0")}`, scene, questions };
  });
}

/** The normal form both sides are compared in. */
export function normalizeAnswer(s: string): string {
  const t = s
    .toLowerCase()
    .trim()
    .replace(/\s+/g, " ")
    .replace(/[.?!]+$/, "")
    .trim();
  return /^\d+$/.test(t) && Number(t) <= 10 ? GENEVAL_NUMBER_WORDS[Number(t)] : t;
}

export function answersMatch(given: string, expected: string): boolean {
  return normalizeAnswer(given) === normalizeAnswer(expected);
}

export type UndSummary = {
  overall: number;
  types: Partial<Record<VqaType, number>>;
  typeMean: number;
  questions: number;
  images: number;
  /**
   * Each question's outcome in item order ("1" right, "0" wrong): two models answering the same
   * set can be compared question by question (paired, McNemar-style), see `undPairedDelta`.
   * Always written by `scoreUndBatched`; absent in results saved before it was kept.
   */
  correct?: string;
};

/** Answers a batch of questions, one per image (a model answering many rows per call). */
export type BatchAnswerer = (images: RgbImage[], questions: string[]) => Promise<string[]>;

export async function scoreUnd(
  items: readonly UndItem[],
  answer: Answerer,
  opts: { size?: number } = {},
): Promise<UndSummary> {
  return scoreUndBatched(
    items,
    async (images, questions) => [await answer(images[0], questions[0])],
    {
      ...opts,
      batchSize: 1,
    },
  );
}

/**
 * scoreUnd with the questions sent `batchSize` at a time (default: all at once) to an answerer
 * that takes many; same numbers as scoreUnd with the same answers.
 */
export async function scoreUndBatched(
  items: readonly UndItem[],
  answer: BatchAnswerer,
  opts: {
    size?: number;
    batchSize?: number;
    onProgress?: (done: number, total: number) => void;
  } = {},
): Promise<UndSummary> {
  const rows = items.flatMap((item) => {
    const image = renderImage(item.scene, { size: opts.size ?? 32 });
    return item.questions.map((q) => ({ image, q }));
  });
  const batch = opts.batchSize ?? Math.max(rows.length, 1);
  const hits: Record<string, [number, number]> = {};
  let right = 0;
  const correct: string[] = [];
  for (let at = 0; at < rows.length; at += batch) {
    const chunk = rows.slice(at, at + batch);
    const given = await answer(
      chunk.map((r) => r.image),
      chunk.map((r) => r.q.question),
    );
    if (given.length !== chunk.length)
      throw new Error(`answerer returned ${given.length} answers for ${chunk.length} questions`);
    chunk.forEach(({ q }, k) => {
      const ok = answersMatch(given[k], q.answer) ? 1 : 0;
      const h = hits[q.type] ?? [0, 0];
      hits[q.type] = [h[0] + ok, h[1] + 1];
      right += ok;
      correct.push(String(ok));
    });
    opts.onProgress?.(at + chunk.length, rows.length);
  }
  const total = rows.length;
  const types: Partial<Record<VqaType, number>> = {};
  for (const t of VQA_TYPES) if (hits[t]) types[t] = hits[t][0] / hits[t][1];
  const vals = Object.values(types) as number[];
  return {
    overall: total ? right / total : 0,
    types,
    typeMean: vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : 0,
    questions: total,
    images: items.length,
    correct: correct.join(""),
  };
}

/**
 * The paired difference `b − a` in und accuracy (points) of two models that answered the same
 * question set, with its standard error over questions: from the discordant counts (a right and b
 * wrong: `lost`; a wrong and b right: `gained`), SE = 100·√(lost + gained − (gained − lost)²/n)/n,
 * the paired (McNemar) form — what a new draw of as many questions could move the difference by.
 * Undefined when either side lacks per-question outcomes or the sets differ in length.
 */
export function undPairedDelta(
  a: Pick<UndSummary, "correct">,
  b: Pick<UndSummary, "correct">,
): { delta: number; se: number; lost: number; gained: number; n: number } | undefined {
  const x = a.correct;
  const y = b.correct;
  if (typeof x !== "string" || typeof y !== "string" || x.length !== y.length || x.length === 0)
    return undefined;
  let lost = 0;
  let gained = 0;
  for (let i = 0; i < x.length; i++) {
    if (x[i] === "1" && y[i] !== "1") lost++;
    else if (x[i] !== "1" && y[i] === "1") gained++;
  }
  const n = x.length;
  const d = gained - lost;
  return {
    delta: (100 * d) / n,
    se: (100 * Math.sqrt(Math.max(0, lost + gained - (d * d) / n))) / n,
    lost,
    gained,
    n,
  };
}

/** Knows the answer to every item's questions about its render (keyed by image content). */
export function oracleAnswerer(items: readonly UndItem[], size = 32): Answerer {
  const table = new Map<string, string>();
  for (const it of items) {
    const key = imageKey(renderImage(it.scene, { size }));
    for (const q of it.questions) table.set(`${key}|${q.question}`, q.answer);
  }
  return async (image, question) => table.get(`${imageKey(image)}|${question}`) ?? "";
}

/** Uniform over every answer word the world uses. */
export function randomAnswerer(seed = 0): Answerer {
  const rng = WorldRng.fromParts("bench/und/random", seed);
  const words = [...ALL_CATEGORIES, ...COLORS, ...NUMBER_WORDS, ...RELATIONS, "yes", "no"];
  return async () => rng.pick(words);
}
