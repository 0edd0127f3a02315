/**
 * `reca demo` end to end on the tiny random model (test/helpers/tiny-umm.ts): 2 RecA steps, the
 * first items of each suite, one gap sample per pair. Scores are noise; keys, files and the
 * report's structure are real. The budget arithmetic is tested on its own numbers.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { SceneExclusion } from "../../src/data/corpora.ts";
import { measureCalibration, planSteps } from "../../src/demo/budget.ts";
import { type ReportLoss, renderReport } from "../../src/demo/report.ts";
import { calibrate, DemoError, type DemoRun, runDemo } from "../../src/demo/run.ts";
import { demoFootnote } from "../../src/demo/table.ts";
import { PostTrainConfigSchema, worldPool } from "../../src/train/reca.ts";
import { type TinyUmm, writeTinyUmm } from "../helpers/tiny-umm.ts";

const tmp = mkdtempSync(join(tmpdir(), "reca-demo-"));
let tiny: TinyUmm;

beforeAll(async () => {
  tiny = await writeTinyUmm(tmp, { numCategories: 2 });
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

// An empty exclusion: building every benchmark scene costs ~10 s and changes nothing here.
const quick = {
  steps: 2,
  perItem: 1,
  limit: 2,
  gapSamples: 1,
  chunk: 4,
  quiet: true,
  exclude: new SceneExclusion(),
};

describe("reca demo", () => {
  let run: DemoRun;
  const out = join(tmp, "demo");

  it("aligns, evaluates both models and writes the JSON and the report", async () => {
    run = await runDemo({ ...quick, from: tiny.model, out, parallelism: "kernel" });
    const json = JSON.parse(readFileSync(run.json, "utf8"));
    expect(Object.keys(json)).toEqual(["before", "after", "minutes"]);
    for (const side of ["before", "after"]) {
      expect(json[side].geneval).toMatchObject({ items: 2, perItem: 1, images: 2 });
      expect(Object.keys(json[side].geneval.tags).length).toBeGreaterThan(0);
      expect(json[side].und).toMatchObject({ images: 2, questions: 8 });
      expect(json[side].gap.summary.all.pairs).toBe(20);
    }
    expect(json.after.reca).toMatchObject({
      steps: 2,
      calibration: null,
      resumedFrom: null,
      stoppedAtBudget: false,
    });
    expect(json.after.reca.cpuMinutes).toBeGreaterThan(0); // measured, not wall × threads
    expect(json.minutes).toBeGreaterThan(0);
    expect(existsSync(join(out, "reca", "model.safetensors"))).toBe(true);
    expect(run.table).toMatch(/GenEval overall/);
    expect(run.table).toMatch(/und overall/);

    const html = readFileSync(run.report, "utf8");
    // 2 prompts × 1 sample × 2 models in the grids, and again in the sliders.
    expect(html.match(/<img class="shot[^>]*src="data:image\/png;base64,/g)).toHaveLength(8);
    expect(html.match(/<input type="range"/g)).toHaveLength(2);
    expect(html).toMatch(/alt="base recognition accuracy[^"]*"/);
    expect(html).toMatch(/alt="RecA generation accuracy[^"]*"/);
    expect(html).toMatch(/<figcaption>a photo of an? \w+<\/figcaption>/);
    expect(html).toMatch(/data-prompt="a photo of an? \w+"/);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    // RecA's loss curve, from the run's own metrics.jsonl (2 steps: one polyline of 2 points):
    // its reconstruction rows' loss, which the run logs apart from the text rows.
    expect(html).toContain("<h2>RecA training loss</h2>");
    expect(html).toContain('aria-label="Training loss: RecA reconstruction loss"');
    expect(html).toMatch(/<figcaption>the reconstruction rows' generation loss/);
    const curve = html.match(/<polyline [^>]*points="([^"]+)"/)?.[1] ?? "";
    expect(curve.split(" ")).toHaveLength(2);
  });

  it("says in the table when RecA stopped at the budget before its planned steps", () => {
    const reca = run.result.after.reca;
    const cut = {
      ...run.result,
      after: {
        ...run.result.after,
        reca: {
          ...reca,
          budgetMinutes: 10,
          plan: { steps: 9, fits: true, estimatedSeconds: 30 },
          stoppedAtBudget: true,
        },
      },
    };
    expect(demoFootnote(cut)).toMatch(
      /RecA: 2 steps of 9 planned, stopped at the budget \(budget 10 min\)/,
    );
    expect(demoFootnote(run.result)).not.toMatch(/planned/);
  });

  it("gives a resumed run's total training time, not just this invocation's", () => {
    const reca = run.result.after.reca;
    const resumed = {
      ...run.result,
      after: {
        ...run.result.after,
        reca: { ...reca, budgetMinutes: null, minutes: 0.2, loopMinutes: 42.7, resumedFrom: 600 },
      },
    };
    expect(demoFootnote(resumed)).toMatch(/42\.7 min training in total \(resumed at step 600\)/);
    expect(demoFootnote(resumed)).not.toMatch(/0\.2 min training/);
    expect(demoFootnote(run.result)).toMatch(/\d min training; demo/);
    // The report's header says the same.
    const report = (loss?: ReportLoss) =>
      renderReport({
        from: "base",
        recaDir: "out/reca",
        seed: 0,
        result: resumed,
        prompts: [],
        gap: run.gap,
        loss,
      });
    const html = report();
    const header = html.match(/<p class="meta">base .*?<\/p>/s)?.[0] ?? "";
    expect(header).toMatch(/42\.7 min training in total \(resumed at step 600\)/);
    expect(header).not.toMatch(/0\.2 min/);
    expect(html).not.toContain("RecA training loss"); // no curve given: no section
    // A run that logged only its total loss (trained before parts were logged) gets that curve.
    const points = [1, 2, 3].map((step) => ({ step, loss: 0.4 - step / 100 }));
    const total = report({ part: "total", points });
    expect(total).toContain('aria-label="Training loss: RecA training loss"');
    expect(total).toMatch(/<figcaption>the step's total loss \(reconstruction plus/);
  });

  it("escapes prompt text in the report", () => {
    const shot = {
      image: { width: 1, height: 1, data: new Float32Array(3) },
      correct: true,
      reason: "a<b",
    };
    const nasty = `<script>alert("x")</script> & 'q'`;
    const html = renderReport({
      from: "<base>",
      recaDir: "out/reca",
      seed: 0,
      result: run.result,
      prompts: [{ prompt: nasty, tag: "colors", base: [shot], reca: [shot] }],
      gap: run.gap,
    });
    expect(html).not.toContain(nasty);
    expect(html).not.toContain("<script>alert");
    expect(html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;");
    expect(html).toContain('data-reason="a&lt;b"');
    expect(html).toContain("&lt;base&gt;");
  });

  it("refuses an existing run without --resume or --force; --resume re-evaluates a finished one", async () => {
    await expect(runDemo({ ...quick, from: tiny.model, out })).rejects.toThrow(
      /already holds a RecA run: pass --resume/,
    );
    // The recorded step count wins over a new --steps: the schedule is the run's.
    const again = await runDemo({ ...quick, steps: 5, from: tiny.model, out, resume: true });
    expect(again.result.after.reca).toMatchObject({ steps: 2, resumedFrom: 2 });
    // Same models, same seeds: the same scores.
    expect(again.result.after.geneval.overall).toBe(run.result.after.geneval.overall);
    expect(again.result.before.und).toMatchObject({ overall: run.result.before.und.overall });
  });

  it("names `reca train base` when the base model is missing", async () => {
    const missing = join(tmp, "nowhere");
    const e = await runDemo({ from: missing, out: join(tmp, "x"), quiet: true }).catch((x) => x);
    expect(e).toBeInstanceOf(DemoError);
    expect(e.message).toMatch(/base model .*nowhere not found: .*reca train base --out/);
    // The command: one line on stderr, exit code 2.
    let stderr = "";
    const write = process.stderr.write;
    process.stderr.write = ((x: string) => {
      stderr += x;
      return true;
    }) as typeof process.stderr.write;
    try {
      await main(["node", "reca", "demo", "--from", missing, "--out", join(tmp, "x")]);
    } finally {
      process.stderr.write = write;
    }
    expect(process.exitCode).toBe(2);
    process.exitCode = undefined;
    expect(stderr).toMatch(
      /^reca: base model .*nowhere not found: train it first with `reca train base/,
    );
  });
});

describe("training budget", () => {
  it("times calibration steps of the real run and removes them", async () => {
    const pt = PostTrainConfigSchema.parse({});
    const out = join(tmp, "cal");
    const c = await calibrate(pt, 3, {
      from: tiny.model,
      out,
      images: worldPool(2, new SceneExclusion()),
      exclude: new SceneExclusion(),
      parallelism: "kernel",
      quiet: true,
    });
    expect(c.steps).toBe(3);
    expect(c.stepSeconds).toBeGreaterThan(0);
    expect(c.overheadSeconds + 2 * c.stepSeconds).toBeCloseTo(c.seconds, 6);
    expect(existsSync(join(out, ".calibration"))).toBe(false);
  });

  it("measures the steady step time and the one-off overhead of a calibration run", () => {
    const lines = [1, 2, 3, 4, 5].map((step) => ({
      step,
      stepSeconds: step === 1 ? 9 : 2,
      wallSeconds: 10 + 2.5 * (step - 1), // 0.5 s of batch building per step
    }));
    const c = measureCalibration(lines, 30);
    expect(c.stepSeconds).toBeCloseTo(2.5);
    expect(c.overheadSeconds).toBeCloseTo(30 - 4 * 2.5);
  });

  it("fits the steps into what the calibration left of the budget", () => {
    // 600 s budget − 30 s calibration − 20 s overhead = 550 s at 2.5 s × 1.1 → 200 steps.
    const p = planSteps({
      budgetSeconds: 600,
      spentSeconds: 30,
      stepSeconds: 2.5,
      overheadSeconds: 20,
    });
    expect(p).toEqual({ steps: 200, fits: true, estimatedSeconds: 20 + 200 * 2.5 });
    const tiny = planSteps({
      budgetSeconds: 10,
      spentSeconds: 30,
      stepSeconds: 2.5,
      overheadSeconds: 20,
    });
    expect(tiny).toMatchObject({ steps: 1, fits: false });
  });
});
