import { describe, expect, it } from "vitest";
import {
  answersMatch,
  normalizeAnswer,
  oracleAnswerer,
  randomAnswerer,
  scoreUnd,
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
});
