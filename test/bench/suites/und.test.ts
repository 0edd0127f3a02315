import { describe, expect, it } from "vitest";
import {
  answersMatch,
  normalizeAnswer,
  oracleAnswerer,
  randomAnswerer,
  scoreUnd,
  scoreUndBatched,
  undItemSet,
} from "../../../src/bench/und/index.ts";

describe("und", () => {
  it("normalises answers: case, whitespace, final punctuation, digits ↔ number words", () => {
    expect(normalizeAnswer("  Two. ")).toBe("two");
    expect(normalizeAnswer("2")).toBe("two");
    expect(normalizeAnswer("LEFT   of")).toBe("left of");
    expect(normalizeAnswer("Yes!")).toBe("yes");
    expect(answersMatch("3", "three")).toBe(true);
    expect(answersMatch("0", "zero")).toBe(true);
    expect(answersMatch("a circle", "circle")).toBe(false);
    expect(answersMatch("twelve", "12")).toBe(false);
  });

  it("scores an oracle answerer 1.0 and a random one low, per type and overall", async () => {
    const items = undItemSet({ scenes: 40 });
    expect(items.every((i) => i.questions.length > 0)).toBe(true);
    const oracle = await scoreUnd(items, oracleAnswerer(items));
    expect(oracle.overall).toBe(1);
    expect(Object.keys(oracle.types).sort()).toEqual(["category", "color", "count", "position"]);
    expect(oracle.questions).toBe(items.reduce((a, i) => a + i.questions.length, 0));
    const random = await scoreUnd(items, randomAnswerer(1));
    expect(random.overall).toBeLessThan(0.2);
    const truth = oracleAnswerer(items);
    const words = ["zero", "one", "two", "three", "four"];
    const digits = await scoreUnd(items, async (img, q) => {
      const a = await truth(img, q);
      return words.includes(a) ? String(words.indexOf(a)) : ` ${a.toUpperCase()}.`;
    });
    expect(digits.overall).toBe(1);
  });

  it("batches questions for many-row answerers; same summary as scoreUnd for the same answers", async () => {
    const items = undItemSet({ scenes: 10 });
    const truth = oracleAnswerer(items);
    const sizes: number[] = [];
    const progress: number[] = [];
    const batched = await scoreUndBatched(
      items,
      async (images, questions) => {
        sizes.push(images.length);
        // Wrong on every third question of a batch, so the tally is exercised.
        return Promise.all(images.map((im, i) => (i % 3 === 2 ? "nope" : truth(im, questions[i]))));
      },
      { batchSize: 7, onProgress: (d) => progress.push(d) },
    );
    const perQuestion = await scoreUnd(items, truth);
    expect(perQuestion.overall).toBe(1);
    const all = await scoreUndBatched(items, (ims, qs) =>
      Promise.all(ims.map((im, i) => truth(im, qs[i]))),
    );
    expect(all).toEqual(perQuestion);
    const total = items.reduce((a, i) => a + i.questions.length, 0);
    expect(batched.questions).toBe(total);
    expect(sizes.slice(0, -1).every((n) => n === 7)).toBe(true);
    expect(progress.at(-1)).toBe(total);
    const wrong = sizes.reduce((a, n) => a + Math.floor(n / 3), 0);
    expect(batched.overall).toBeCloseTo((total - wrong) / total, 10);
  });
});
