import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { judgeConfig } from "../../../src/bench/judge/config.ts";
import { TrainingStream, trainingChunk } from "../../../src/bench/judge/data.ts";
import { loadJudge } from "../../../src/bench/judge/detector.ts";
import { trainJudge } from "../../../src/bench/judge/train.ts";
import { WorldRng } from "../../../src/world/random.ts";
import { renderScene } from "../../../src/world/render.ts";
import { sampleScene } from "../../../src/world/scene.ts";

const tmp = mkdtempSync(join(tmpdir(), "reca-judge-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const cfg = judgeConfig({
  sizes: [32],
  model: { hidden: [32] },
  train: { steps: 4, batch: 32, fresh: 16, lr: 1e-3, warmupSteps: 1, checkpointEvery: 2 },
  calibrationImages: 8,
});

describe("judge training", () => {
  it("batches are a pure function of the step, each chunk reused batch/fresh times", () => {
    const a = new TrainingStream(cfg).batch(3);
    const b = new TrainingStream(cfg).batch(3);
    expect(a.crops.data).toEqual(b.crops.data);
    expect(a.category.data).toEqual(b.category.data);
    const c3 = trainingChunk(cfg, 3);
    const next = new TrainingStream(cfg).batch(4);
    // Step 4's second half is chunk 3, step 3's first half.
    expect(next.category.data.slice(16)).toEqual(c3.category);
    expect(a.category.data.slice(0, 16)).toEqual(c3.category);
    // Labels are categories (0..5) or "none" (6).
    expect([...a.category.data].every((x) => x >= 0 && x <= 6)).toBe(true);
  });

  it("trains, calibrates, resumes and loads as a Detector", async () => {
    const out = join(tmp, "judge");
    const r = await trainJudge(
      { ...cfg, train: { ...cfg.train, steps: 2 } },
      { outDir: out, quiet: true },
    );
    expect(r.loop.status).toBe("done");
    const r2 = await trainJudge(cfg, { outDir: out, resume: true, quiet: true });
    expect(r2.loop.step).toBe(4);
    expect(r2.calibration!.temperature).toBeGreaterThan(0);
    expect(existsSync(join(out, "calibration.json"))).toBe(true);
    expect(JSON.parse(readFileSync(join(out, "config.json"), "utf8")).categories).toEqual(
      cfg.categories,
    );
    const detect = await loadJudge(out, { minScore: 0 });
    const img = renderScene(sampleScene(new WorldRng(1))).image;
    const [dets] = await detect([img]);
    for (const d of dets) {
      expect(d.score).toBeGreaterThanOrEqual(0);
      expect(d.score).toBeLessThanOrEqual(1);
    }
  });
});
