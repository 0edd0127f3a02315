/**
 * The understanding–generation gap probe (`reca probe gap`): RecA's premise is that a unified
 * model often *recognises* a concept it cannot *draw*. For every (category, colour) pair of the
 * model's world (its categories × GenEval's ten colours):
 *
 * - recognition: k single objects of that category and colour (size and position drawn from
 *   WorldRng("bench/gap", seed, category, colour, j)) are rendered and the model is asked the
 *   world's own VQA questions about them (vqaCandidates: "what shape is shown?"-style and "what
 *   color is the <category>?"-style, so they are in the model's training distribution). An
 *   object is recognised when both answers are right (und's exact-match normalisation).
 * - generation: the GenEval colors prompt ("a photo of a red circle"), k samples, judged
 *   correct by GenEval's rules for that colors item plus an exclude clause {class, count 2},
 *   i.e. exactly one object of the category above the 0.3 threshold and it has the colour.
 * - gap = recognition − generation.
 *
 * The summary splits pairs by the biased caption prior (world/vocab.ts DOMINANT_COLOR: the
 * UMM's alt-text captions show each shape in its own colour ~85% of the time): the paper's
 * story predicts a larger gap on the non-dominant pairs, which captions rarely describe.
 */

import {
  answerMany,
  DEFAULT_ANSWER_TOKENS,
  generateMany,
  type InferenceModel,
} from "../sample/batched.ts";
import { WorldRng } from "../world/random.ts";
import { type RgbImage, renderImage } from "../world/render.ts";
import { buildScene } from "../world/scene.ts";
import {
  type Category,
  COLORS,
  type Color,
  colorRgb,
  DOMINANT_COLOR,
  worldCategories,
} from "../world/vocab.ts";
import { vqaCandidates } from "../world/vqa.ts";
import { scoreGenevalImage } from "./geneval/score.ts";
import { colors, type GenevalMetadata } from "./geneval/templates.ts";
import type { Detector } from "./judge/types.ts";
import { answersMatch } from "./und/index.ts";

export const GAP_SEED = 0;
export const GAP_DEFAULT_SAMPLES = 4;

export type GapOptions = {
  numCategories: number;
  /** Recognition renders and generated samples per pair (default 4). */
  samples?: number;
  /** Seed of the recognition scenes and of the sampling noise. */
  seed?: number;
  guidance?: number;
  steps?: number;
  chunk?: number;
  detectBatch?: number;
  onProgress?: (stage: GapStage, done: number, total: number) => void;
};

export type GapStage = "recognition" | "generation" | "judge";

/** A progress display: `label`, total work and its unit → a bar (src/train/progress.ts fits). */
type BarFactory = (
  label: string,
  total: number,
  unit: string,
) => { update(done: number): void; stop(): void };

/**
 * One bar per stage of the probe ("gap recognition", "gap generation", "gap judge"), each
 * stopped when the next begins; `stop()` ends the last. Pass `onProgress` to gapProbe.
 */
export function gapProgressBars(bar: BarFactory): {
  onProgress: NonNullable<GapOptions["onProgress"]>;
  stop(): void;
} {
  let current: { stage: GapStage; bar: ReturnType<BarFactory> } | undefined;
  const stop = () => {
    current?.bar.stop();
    current = undefined;
  };
  return {
    onProgress: (stage, done, total) => {
      if (current?.stage !== stage) {
        stop();
        const unit = stage === "recognition" ? "questions" : "images";
        current = { stage, bar: bar(`gap ${stage}`, total, unit) };
      }
      current.bar.update(done);
    },
    stop,
  };
}

export type GapCell = {
  category: Category;
  color: Color;
  /** The category's dominant colour under the biased caption prior. */
  dominant: boolean;
  recognition: number;
  generation: number;
  gap: number;
  /** Per-question accuracies behind `recognition`. */
  categoryAnswers: number;
  colorAnswers: number;
};

export type GapGroup = { pairs: number; recognition: number; generation: number; gap: number };

export type GapResult = {
  categories: Category[];
  colors: Color[];
  samples: number;
  seed: number;
  cells: GapCell[];
  summary: { all: GapGroup; dominant: GapGroup; nonDominant: GapGroup };
  /** Example questions asked (one per kind), for the record. */
  questions: { category: string; color: string };
};

/** The generation item: GenEval's colors prompt, exactly one object of the class. */
export function gapGenerationItem(category: Category, color: Color): GenevalMetadata {
  return { ...colors(category, color), exclude: [{ class: category, count: 2 }] };
}

type RecognitionRow = {
  cell: number;
  image: RgbImage;
  category: { question: string; answer: string };
  color: { question: string; answer: string };
};

/** k renders per pair, with the world's single-object category and colour questions. */
export function recognitionRows(
  categories: readonly Category[],
  k: number,
  seed: number,
  size: number,
): RecognitionRow[] {
  const rows: RecognitionRow[] = [];
  categories.forEach((category, ci) => {
    COLORS.forEach((color, ki) => {
      for (let j = 0; j < k; j++) {
        const rng = WorldRng.fromParts("bench/gap", seed, category, color, j);
        const scene = buildScene(rng, { objects: [{ category, color }] }, { categories });
        const q = vqaCandidates(scene, rng, categories);
        // One object: category[0] is the "what shape is shown?" family, color[0] names it.
        rows.push({
          cell: ci * COLORS.length + ki,
          image: renderImage(scene, { size }),
          category: q.category[0],
          color: q.color[0],
        });
      }
    });
  });
  return rows;
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

function group(cells: readonly GapCell[]): GapGroup {
  return {
    pairs: cells.length,
    recognition: mean(cells.map((c) => c.recognition)),
    generation: mean(cells.map((c) => c.generation)),
    gap: mean(cells.map((c) => c.gap)),
  };
}

export async function gapProbe(
  model: InferenceModel,
  detect: Detector,
  o: GapOptions,
): Promise<GapResult> {
  const k = o.samples ?? GAP_DEFAULT_SAMPLES;
  const seed = o.seed ?? GAP_SEED;
  const categories = [...worldCategories(o.numCategories)];
  const pairs = categories.flatMap((category) => COLORS.map((color) => ({ category, color })));
  const progress = (stage: GapStage) => (d: number, t: number) => o.onProgress?.(stage, d, t);

  // Recognition: both questions of a render in one batch (render r's answers at r and n + r).
  const rec = recognitionRows(categories, k, seed, model.imageSize);
  o.onProgress?.("recognition", 0, 2 * rec.length);
  const answers = await answerMany(
    model,
    [...rec.map((r) => r.image), ...rec.map((r) => r.image)],
    [...rec.map((r) => r.category.question), ...rec.map((r) => r.color.question)],
    { chunk: o.chunk, maxTokens: DEFAULT_ANSWER_TOKENS, onProgress: progress("recognition") },
  );
  const n = rec.length;
  const catOk = rec.map((r, i) => (answersMatch(answers[i], r.category.answer) ? 1 : 0));
  const colOk = rec.map((r, i) => (answersMatch(answers[n + i], r.color.answer) ? 1 : 0));

  // Generation: k samples of each pair's prompt, judged by the GenEval rule above.
  const items = pairs.map((p) => gapGenerationItem(p.category, p.color));
  const rows = items.flatMap((_, cell) => Array.from({ length: k }, () => cell));
  o.onProgress?.("generation", 0, rows.length);
  const images = await generateMany(
    model,
    rows.map((cell) => items[cell].prompt),
    {
      guidance: o.guidance,
      steps: o.steps,
      seed,
      chunk: o.chunk,
      onProgress: progress("generation"),
    },
  );
  const genOk: number[] = [];
  const batch = o.detectBatch ?? 64;
  o.onProgress?.("judge", 0, images.length);
  for (let at = 0; at < images.length; at += batch) {
    const dets = await detect(images.slice(at, at + batch));
    dets.forEach((d, j) => {
      genOk.push(scoreGenevalImage(items[rows[at + j]], d).correct ? 1 : 0);
    });
    o.onProgress?.("judge", Math.min(at + batch, images.length), images.length);
  }

  const cells: GapCell[] = pairs.map(({ category, color }, cell) => {
    const mine = rec.flatMap((r, i) => (r.cell === cell ? [i] : []));
    const recognition = mean(mine.map((i) => catOk[i] * colOk[i]));
    const generation = mean(rows.flatMap((c, r) => (c === cell ? [genOk[r]] : [])));
    return {
      category,
      color,
      dominant: DOMINANT_COLOR[category] === color,
      recognition,
      generation,
      gap: recognition - generation,
      categoryAnswers: mean(mine.map((i) => catOk[i])),
      colorAnswers: mean(mine.map((i) => colOk[i])),
    };
  });
  return {
    categories,
    colors: [...COLORS],
    samples: k,
    seed,
    cells,
    summary: {
      all: group(cells),
      dominant: group(cells.filter((c) => c.dominant)),
      nonDominant: group(cells.filter((c) => !c.dominant)),
    },
    questions: { category: rec[0].category.question, color: rec[0].color.question },
  };
}

/** Rows = categories, columns = colours: "recognition/generation (gap)", * on dominant pairs. */
export function formatGapTable(r: GapResult): string {
  const w = Math.max(...r.categories.map((c) => c.length), 8);
  const col = 15;
  const head = `${"".padEnd(w)}  ${r.colors.map((c) => c.padStart(col)).join("")}`;
  const lines = [head];
  for (const category of r.categories) {
    const cells = r.colors.map((color) => {
      const c = r.cells.find((x) => x.category === category && x.color === color)!;
      const s = `${c.recognition.toFixed(2)}/${c.generation.toFixed(2)}${c.dominant ? "*" : " "}`;
      return s.padStart(col);
    });
    lines.push(`${category.padEnd(w)}  ${cells.join("")}`);
  }
  const g = (name: string, x: GapGroup) =>
    `${name.padEnd(13)} recognition ${x.recognition.toFixed(3)}  generation ${x.generation.toFixed(3)}  gap ${x.gap >= 0 ? "+" : ""}${x.gap.toFixed(3)}  (${x.pairs} pairs)`;
  lines.push(
    "",
    "cells: recognition/generation; * = the category's dominant colour in the biased captions",
    g("all", r.summary.all),
    g("dominant", r.summary.dominant),
    g("non-dominant", r.summary.nonDominant),
  );
  return lines.join("\n");
}

/** A perceptual ramp (viridis, 5 stops) for accuracies in [0, 1]. */
const RAMP: readonly [number, number, number][] = [
  [0.267, 0.005, 0.329],
  [0.229, 0.322, 0.546],
  [0.128, 0.567, 0.551],
  [0.369, 0.789, 0.383],
  [0.993, 0.906, 0.144],
];

export function rampColor(v: number): [number, number, number] {
  const x = Math.min(Math.max(v, 0), 1) * (RAMP.length - 1);
  const i = Math.min(Math.floor(x), RAMP.length - 2);
  const f = x - i;
  return [0, 1, 2].map((c) => RAMP[i][c] * (1 - f) + RAMP[i + 1][c] * f) as [
    number,
    number,
    number,
  ];
}

/**
 * A heat map of one accuracy: rows = categories (each row starts with the shape drawn in white),
 * columns = colours (a swatch on top), cell colour = accuracy on the viridis ramp (dark purple 0,
 * yellow 1); dominant pairs get a white frame. `cell` pixels per cell.
 */
export function gapHeatmap(r: GapResult, which: "recognition" | "generation", cell = 16): RgbImage {
  const cols = r.colors.length + 1;
  const rows = r.categories.length + 1;
  const W = cols * cell;
  const H = rows * cell;
  const data = new Float32Array(W * H * 3);
  const fill = (x0: number, y0: number, w: number, h: number, rgb: readonly number[]) => {
    for (let y = y0; y < y0 + h; y++)
      for (let x = x0; x < x0 + w; x++) data.set(rgb, 3 * (y * W + x));
  };
  fill(0, 0, W, H, [0.15, 0.17, 0.2]);
  const inset = Math.max(1, Math.round(cell / 8));
  r.colors.forEach((color, j) => {
    fill((j + 1) * cell + inset, inset, cell - 2 * inset, cell - 2 * inset, colorRgb(color));
  });
  r.categories.forEach((category, i) => {
    const icon = renderImage(
      { objects: [{ category, color: "white", size: "large", x: 0.5, y: 0.5, radius: 0.36 }] },
      { size: cell },
    );
    for (let y = 0; y < cell; y++)
      data.set(icon.data.subarray(3 * y * cell, 3 * (y + 1) * cell), 3 * ((i + 1) * cell + y) * W);
    r.colors.forEach((color, j) => {
      const c = r.cells.find((x) => x.category === category && x.color === color)!;
      const x0 = (j + 1) * cell;
      const y0 = (i + 1) * cell;
      // A 1-px gap between cells; dominant pairs get a white frame inside it.
      if (c.dominant) fill(x0 + 1, y0 + 1, cell - 2, cell - 2, [1, 1, 1]);
      const m = c.dominant ? 2 : 1;
      fill(x0 + m, y0 + m, cell - 2 * m, cell - 2 * m, rampColor(c[which]));
    });
  });
  return { width: W, height: H, data };
}
