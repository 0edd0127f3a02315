/**
 * The suites end to end with the oracle detector: ground truth must score
 * (near) perfectly, controls must score low. test/bench/suites/judge.test.ts
 * re-checks the same thresholds with the trained judge.
 */
import { describe, expect, it } from "vitest";
import { shuffledSources } from "../../../src/bench/controls.ts";
import { dpgPromptSet, dpgSuite } from "../../../src/bench/dpg/index.ts";
import { editItemSet, editSuite } from "../../../src/bench/edit/index.ts";
import { genevalPromptSet, genevalSuite } from "../../../src/bench/geneval/index.ts";
import { undItemSet } from "../../../src/bench/und/index.ts";
import { SceneExclusion } from "../../../src/data/corpora.ts";
import { runSuite } from "./helpers.ts";

describe("benchmark scenes", () => {
  it("are registered so training corpora avoid them", () => {
    const ex = new SceneExclusion();
    const g = genevalPromptSet({ perTag: 2, exclude: ex });
    expect(ex.size).toBe(g.length * 4);
    expect(ex.has(genevalSuite().groundTruth(g[3], 2, 32))).toBe(true);
    const d = dpgPromptSet({ size: 3, exclude: ex });
    expect(ex.has(d[2].scene)).toBe(true);
    const e = editItemSet({ perKind: 1, exclude: ex });
    expect(e.every((i) => ex.has(i.source) && ex.has(i.target))).toBe(true);
    undItemSet({ scenes: 2, exclude: ex });
    expect(ex.size).toBe(g.length * 4 + 3 + 10 + 2);
  });
});

describe("shuffled control", () => {
  it("gives every item another item's images", () => {
    for (const n of [2, 3, 17, 86]) {
      const src = shuffledSources(n);
      expect(src.every((j, i) => j !== i)).toBe(true);
      expect(new Set(src).size).toBe(n);
    }
    expect(() => shuffledSources(1)).toThrow();
  });
});

describe("suites with the oracle detector", () => {
  it("geneval: ground truth ≥ 0.98, noise ≤ 0.05, shuffled clearly low", async () => {
    const metas = genevalPromptSet();
    const gt = await runSuite(genevalSuite(), metas, "ground-truth", 4, null);
    expect(gt.overall).toBeGreaterThanOrEqual(0.98);
    expect(gt.images).toBe(344);
    expect((await runSuite(genevalSuite(), metas, "noise", 4, null)).overall).toBeLessThanOrEqual(
      0.05,
    );
    expect((await runSuite(genevalSuite(), metas, "shuffled", 2, null)).overall).toBeLessThan(0.2);
  });

  it("dpg: ground truth ≥ 98, noise ≤ 5, shuffled clearly low", async () => {
    const metas = dpgPromptSet();
    expect(
      (await runSuite(dpgSuite(), metas, "ground-truth", 4, null)).overall,
    ).toBeGreaterThanOrEqual(98);
    expect((await runSuite(dpgSuite(), metas, "noise", 2, null)).overall).toBeLessThanOrEqual(5);
    expect((await runSuite(dpgSuite(), metas, "shuffled", 2, null)).overall).toBeLessThan(50);
  });

  it("edit: ground truth O ≥ 9.5, noise ≤ 1, shuffled clearly low", async () => {
    const metas = editItemSet();
    const gt = await runSuite(editSuite(), metas, "ground-truth", 1, null);
    expect(gt.overall).toBeGreaterThanOrEqual(9.5);
    expect(Object.keys(gt.types as object)).toEqual([
      "add",
      "remove",
      "replace",
      "recolor",
      "move",
    ]);
    expect((await runSuite(editSuite(), metas, "noise", 1, null)).overall).toBeLessThanOrEqual(1);
    expect((await runSuite(editSuite(), metas, "shuffled", 1, null)).overall).toBeLessThan(3);
  });
});
