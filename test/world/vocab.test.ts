import { describe, expect, it } from "vitest";
import {
  ALL_CATEGORIES,
  article,
  BACKGROUND,
  COLORS,
  countedPhrase,
  DOMINANT_COLOR,
  PALETTE,
  plural,
  vocabulary,
  worldCategories,
} from "../../src/world/vocab.ts";

describe("vocabulary", () => {
  it("uses exactly GenEval's ten colours, in its order", () => {
    expect([...COLORS]).toEqual([
      "red",
      "orange",
      "yellow",
      "green",
      "blue",
      "purple",
      "pink",
      "brown",
      "black",
      "white",
    ]);
  });

  it("keeps every colour and the background well apart", () => {
    const rgbs = [...COLORS.map((c) => PALETTE[c]), BACKGROUND];
    let min = Infinity;
    for (let i = 0; i < rgbs.length; i++)
      for (let j = 0; j < i; j++) {
        const d = Math.hypot(...rgbs[i].map((v, k) => (v - rgbs[j][k]) / 255));
        min = Math.min(min, d);
      }
    expect(min).toBeGreaterThan(0.37);
  });

  it("has a bijective dominant-colour map", () => {
    expect(new Set(Object.values(DOMINANT_COLOR)).size).toBe(ALL_CATEGORIES.length);
  });

  it("follows GenEval's plural and article rules", () => {
    expect(plural("cross")).toBe("crosses");
    expect(plural("circle")).toBe("circles");
    expect(article("orange")).toBe("an");
    expect(article("red")).toBe("a");
    expect(countedPhrase(1, ["orange"], "ring")).toBe("an orange ring");
    expect(countedPhrase(3, ["red"], "cross")).toBe("three red crosses");
    expect(countedPhrase("a few", [], "star")).toBe("a few stars");
  });

  it("defaults to six categories and allows up to ten", () => {
    expect(worldCategories()).toHaveLength(6);
    expect(worldCategories(10)).toHaveLength(10);
    expect(() => worldCategories(11)).toThrow();
    expect(vocabulary().relations).toEqual(["left of", "right of", "above", "below"]);
  });
});
