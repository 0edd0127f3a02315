import { describe, expect, it } from "vitest";
import {
  gapGenerationItem,
  gapHeatmap,
  gapProbe,
  gapProgressBars,
  rampColor,
  recognitionRows,
} from "../../src/bench/gap.ts";
import { scoreGenevalImage } from "../../src/bench/geneval/score.ts";
import { createOracle, imageKey } from "../../src/bench/oracle.ts";
import { Tokenizer } from "../../src/data/tokenizer.ts";
import { type InferenceModel, inChunks } from "../../src/sample/batched.ts";
import { WorldRng } from "../../src/world/random.ts";
import type { RgbImage } from "../../src/world/render.ts";
import { buildScene } from "../../src/world/scene.ts";
import { type Category, DOMINANT_COLOR, worldCategories } from "../../src/world/vocab.ts";
import { det } from "./suites/helpers.ts";

/**
 * A model that recognises every single object perfectly but always draws a category in its
 * dominant colour: the caption-prior failure the probe exists to expose. The oracle stands in
 * for the judge (it reads back what was drawn exactly).
 */
function biasedModel(numCategories: number, k: number) {
  const oracle = createOracle();
  const categories = worldCategories(numCategories);
  const truth = new Map<string, { category: string; color: string }>();
  for (const r of recognitionRows(categories, k, 0, 32))
    truth.set(imageKey(r.image), { category: r.category.answer, color: r.color.answer });
  const calls: number[] = [];
  const model: InferenceModel = {
    imageSize: 32,
    tokenizer: Tokenizer.world(),
    config: {
      sequence: { conditionLen: 64, textLen: 64 },
      features: { tokens: 4 },
    } as unknown as InferenceModel["config"],
    async generate(prompts, o = {}) {
      calls.push(prompts.length);
      return prompts.map((p, i) => {
        const category = p.split(" ").at(-1) as Category;
        const rng = WorldRng.fromParts("test/gap", o.seed ?? 0, i);
        const scene = buildScene(rng, {
          objects: [{ category, color: DOMINANT_COLOR[category] }],
        });
        return oracle.render(scene, 32);
      });
    },
    edit: async () => {
      throw new Error("not used");
    },
    async answer(images: readonly RgbImage[], questions: readonly string[]) {
      calls.push(images.length);
      return questions.map((q, i) => {
        const t = truth.get(imageKey(images[i]));
        if (!t) return "";
        return q.includes("color") ? t.color : t.category;
      });
    },
  };
  return { model, oracle, calls };
}

describe("gap probe", () => {
  it("finds the caption-prior gap: recognised everywhere, drawn only in the dominant colour", async () => {
    const { model, oracle, calls } = biasedModel(2, 2);
    const stages = new Set<string>();
    const r = await gapProbe(model, oracle.detect, {
      numCategories: 2,
      samples: 2,
      chunk: 16,
      onProgress: (stage) => stages.add(stage),
    });
    expect(r.cells).toHaveLength(20);
    expect(r.categories).toEqual(["circle", "square"]);
    expect([...stages].sort()).toEqual(["generation", "judge", "recognition"]);
    // Every model call is one fixed-size chunk: 80 questions and 40 prompts in chunks of 16.
    expect(calls.every((n) => n === 16)).toBe(true);
    expect(calls).toHaveLength(5 + 3);
    for (const c of r.cells) {
      expect(c.recognition).toBe(1);
      expect(c.generation).toBe(c.dominant ? 1 : 0);
      expect(c.gap).toBe(c.recognition - c.generation);
    }
    expect(r.summary.dominant).toEqual({ pairs: 2, recognition: 1, generation: 1, gap: 0 });
    expect(r.summary.nonDominant).toEqual({ pairs: 18, recognition: 1, generation: 0, gap: 1 });
    expect(r.summary.all.gap).toBeCloseTo(0.9);
    expect(r.questions.color).toMatch(/^what (color is|is the color of) the circle\?$/);

    const map = gapHeatmap(r, "generation", 16);
    expect([map.width, map.height]).toEqual([11 * 16, 3 * 16]);
    // The dominant cell (circle, red) is yellow (1) inside a white frame; (circle, orange) purple.
    const px = (x: number, y: number) =>
      Array.from(map.data.subarray(3 * (y * map.width + x), 3 * (y * map.width + x) + 3));
    expect(px(16 + 1, 16 + 1)).toEqual([1, 1, 1]);
    expect(px(16 + 8, 16 + 8).map((v) => v.toFixed(3))).toEqual(
      rampColor(1).map((v) => v.toFixed(3)),
    );
    expect(px(32 + 8, 16 + 8).map((v) => v.toFixed(3))).toEqual(
      rampColor(0).map((v) => v.toFixed(3)),
    );
  });

  it("shows one progress bar per stage, stopping each when the next begins", async () => {
    const { model, oracle } = biasedModel(2, 2);
    const log: string[] = [];
    const bars = gapProgressBars((label, total, unit) => {
      log.push(`open ${label} ${total} ${unit}`);
      let last = -1;
      return {
        update: (d) => {
          expect(d).toBeGreaterThanOrEqual(last);
          last = d;
        },
        stop: () => log.push(`stop ${label} at ${last}/${total}`),
      };
    });
    await gapProbe(model, oracle.detect, {
      numCategories: 2,
      samples: 2,
      chunk: 16,
      onProgress: bars.onProgress,
    }).finally(() => bars.stop());
    expect(log).toEqual([
      "open gap recognition 80 questions",
      "stop gap recognition at 80/80",
      "open gap generation 40 images",
      "stop gap generation at 40/40",
      "open gap judge 40 images",
      "stop gap judge at 40/40",
    ]);
  });

  it("judges generation as GenEval's colors item with exactly one object of the class", () => {
    const item = gapGenerationItem("circle", "blue");
    expect(item.prompt).toBe("a photo of a blue circle");
    const one = det("circle", [2, 2, 10, 10], 0.9, "blue");
    const two = det("circle", [20, 20, 28, 28], 0.9, "blue");
    expect(scoreGenevalImage(item, [one]).correct).toBe(true);
    expect(scoreGenevalImage(item, [one, two]).correct).toBe(false);
    expect(scoreGenevalImage(item, [{ ...one, color: "red" }]).correct).toBe(false);
    // Another class beside it is fine; a weak second circle (≤ 0.3) does not count.
    expect(scoreGenevalImage(item, [one, det("square", [20, 20, 28, 28])]).correct).toBe(true);
    expect(scoreGenevalImage(item, [one, { ...two, score: 0.2 }]).correct).toBe(true);
  });
});

describe("inChunks", () => {
  it("runs fixed-size chunks, padding the last, and returns results in order", async () => {
    const seen: number[][] = [];
    const progress: number[] = [];
    const out = await inChunks(
      [1, 2, 3, 4, 5],
      2,
      async (batch) => {
        seen.push(batch);
        return batch.map((x) => x * 10);
      },
      (done) => progress.push(done),
    );
    expect(out).toEqual([10, 20, 30, 40, 50]);
    expect(seen).toEqual([
      [1, 2],
      [3, 4],
      [5, 5],
    ]);
    expect(progress).toEqual([2, 4, 5]);
  });
});
