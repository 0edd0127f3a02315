/**
 * The ground-truth and control thresholds of controls.test.ts, re-checked with
 * the trained judge instead of the oracle. Skipped only while the judge
 * checkpoint is absent.
 */
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { dpgPromptSet, dpgSuite } from "../../../src/bench/dpg/index.ts";
import { editItemSet, editSuite } from "../../../src/bench/edit/index.ts";
import { genevalPromptSet, genevalSuite } from "../../../src/bench/geneval/index.ts";
import type { Detector } from "../../../src/bench/judge/types.ts";
import { runSuite } from "./helpers.ts";

const DIR = "checkpoints/judge";
const present = existsSync(`${DIR}/model.safetensors`);

async function judge(): Promise<Detector> {
  for (const spec of ["index.ts", "detector.ts"]) {
    const path: string = `../../../src/bench/judge/${spec}`;
    const mod = await import(path).catch(() => ({}));
    if (typeof mod.loadJudge === "function") return mod.loadJudge(DIR);
  }
  throw new Error("src/bench/judge exports no loadJudge");
}

describe.skipIf(!present)("suites with the trained judge", () => {
  it("geneval: ground truth ≥ 0.98, noise ≤ 0.05, shuffled clearly low", async () => {
    const d = await judge();
    const metas = genevalPromptSet();
    expect(
      (await runSuite(genevalSuite(), metas, "ground-truth", 4, d)).overall,
    ).toBeGreaterThanOrEqual(0.98);
    expect((await runSuite(genevalSuite(), metas, "noise", 4, d)).overall).toBeLessThanOrEqual(
      0.05,
    );
    expect((await runSuite(genevalSuite(), metas, "shuffled", 2, d)).overall).toBeLessThan(0.2);
  });

  it("dpg: ground truth ≥ 98, noise ≤ 5, shuffled clearly low", async () => {
    const d = await judge();
    const metas = dpgPromptSet();
    expect(
      (await runSuite(dpgSuite(), metas, "ground-truth", 4, d)).overall,
    ).toBeGreaterThanOrEqual(98);
    expect((await runSuite(dpgSuite(), metas, "noise", 2, d)).overall).toBeLessThanOrEqual(5);
    expect((await runSuite(dpgSuite(), metas, "shuffled", 2, d)).overall).toBeLessThan(50);
  });

  it("edit: ground truth O ≥ 9.5, noise ≤ 1, shuffled clearly low", async () => {
    const d = await judge();
    const metas = editItemSet();
    expect(
      (await runSuite(editSuite(), metas, "ground-truth", 1, d)).overall,
    ).toBeGreaterThanOrEqual(9.5);
    expect((await runSuite(editSuite(), metas, "noise", 1, d)).overall).toBeLessThanOrEqual(1);
    expect((await runSuite(editSuite(), metas, "shuffled", 1, d)).overall).toBeLessThan(3);
  });
});
