import { describe, expect, it } from "vitest";
import {
  answersMatch,
  normalizeAnswer,
  oracleAnswerer,
  randomAnswerer,
  scoreUnd,
  scoreUndBatched,
  undItemSet,
  undPairedDelta,
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
    // Per-question outcomes, in item order: the every-third-in-a-batch misses are where they were.
    expect(batched.correct).toHaveLength(total);
    const expected = sizes.flatMap((n) =>
      Array.from({ length: n }, (_, i) => (i % 3 === 2 ? "0" : "1")),
    );
    expect(batched.correct).toBe(expected.join(""));
    expect(perQuestion.correct).toBe("1".repeat(total));
  });

  it("pairs two models question by question: Δ in points and its McNemar standard error", () => {
    // 10 questions; a right on 1–6, b right on 1–4 and 7–9: b lost 2 (5, 6) and gained 3 (7–9).
    const a = { correct: "1111110000" };
    const b = { correct: "1111001110" };
    const d = undPairedDelta(a, b);
    expect(d).toBeDefined();
    expect(d!.lost).toBe(2);
    expect(d!.gained).toBe(3);
    expect(d!.delta).toBeCloseTo(10, 10);
    // 100·√(5 − 1/10)/10
    expect(d!.se).toBeCloseTo(10 * Math.sqrt(4.9), 10);
    // The same answers: no difference and no error; reversing the pair flips the sign only.
    expect(undPairedDelta(a, a)).toMatchObject({ delta: 0, se: 0 });
    expect(undPairedDelta(b, a)!.delta).toBeCloseTo(-10, 10);
    expect(undPairedDelta(b, a)!.se).toBeCloseTo(d!.se, 10);
    // Unpairable: different set sizes, or a result written before outcomes were kept.
    expect(undPairedDelta(a, { correct: "11" })).toBeUndefined();
    expect(undPairedDelta(a, {})).toBeUndefined();
  });
});
